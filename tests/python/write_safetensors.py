#!/usr/bin/python3
"""Writes torch tensors to a safetensors file by hand (struct/json, no safetensors package).

Usage: write_safetensors.py FILE

The values are fixed formulas that safetensors_test.cpp checks after reading the file with hive:
  f32    float32  [2, 3]  i / 4 - 1 for i = 0..5
  f16    float16  [2, 3]  the same values
  bf16   bfloat16 [2, 3]  the same values
  i32    int32    [4]     -3, 0, 7, 2**31 - 1
  i64    int64    [2]     -(2**40), 5
  u8     uint8    [3]     0, 1, 255
  scalar float32  []      2.5
  empty  float32  [0, 3]
with metadata {"writer": "torch"}.
"""
import json
import struct
import sys

import torch

SAFETENSORS_DTYPES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int32: "I32",
    torch.int64: "I64",
    torch.uint8: "U8",
}


def tensor_bytes(tensor):
    # Reinterpreting as bytes works for every dtype, bfloat16 included (numpy has no bfloat16).
    return tensor.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def main():
    if len(sys.argv) != 2:
        print("usage: write_safetensors.py FILE", file=sys.stderr)
        sys.exit(2)
    base = torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4 - 1
    tensors = {
        "f32": base,
        "f16": base.to(torch.float16),
        "bf16": base.to(torch.bfloat16),
        "i32": torch.tensor([-3, 0, 7, 2**31 - 1], dtype=torch.int32),
        "i64": torch.tensor([-(2**40), 5], dtype=torch.int64),
        "u8": torch.tensor([0, 1, 255], dtype=torch.uint8),
        "scalar": torch.tensor(2.5, dtype=torch.float32),
        "empty": torch.zeros((0, 3), dtype=torch.float32),
    }
    header = {"__metadata__": {"writer": "torch"}}
    chunks = []
    offset = 0
    for name, tensor in tensors.items():
        data = tensor_bytes(tensor)
        header[name] = {
            "dtype": SAFETENSORS_DTYPES[tensor.dtype],
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    header_text = json.dumps(header).encode("utf-8")
    header_text += b" " * (-len(header_text) % 8)
    with open(sys.argv[1], "wb") as file:
        file.write(struct.pack("<Q", len(header_text)))
        file.write(header_text)
        for data in chunks:
            file.write(data)


if __name__ == "__main__":
    main()
