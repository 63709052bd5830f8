#!/usr/bin/python3
"""Reads a safetensors file without the safetensors package and checks it against expectations.

Usage: read_safetensors.py FILE EXPECTED_JSON

EXPECTED_JSON is {"metadata": {key: text}, "tensors": {name: {"dtype": "F32", "shape": [...],
"bits": [...]}}}, where "bits" lists each element's bit pattern as an unsigned integer (u32 for
F32, u16 for F16 and BF16, the value itself for integer dtypes), so floats, NaN included, compare
exactly. The file is parsed with struct/json and numpy.frombuffer (numpy has no bfloat16: BF16
is compared as uint16). When torch imports, every tensor is also rebuilt with torch.frombuffer
and its values compared with numpy's reading of the same bits. Exits 0 when everything matches
and 1 with a message naming the first mismatch otherwise.
"""
import json
import struct
import sys

import numpy as np

# dtype -> (numpy dtype of the stored values, numpy dtype of their bit patterns)
NUMPY_DTYPES = {
    "F32": ("<f4", "<u4"),
    "F16": ("<f2", "<u2"),
    "BF16": ("<u2", "<u2"),
    "I32": ("<i4", "<i4"),
    "I64": ("<i8", "<i8"),
    "U8": ("u1", "u1"),
}


def fail(message):
    print(f"read_safetensors.py: {message}", file=sys.stderr)
    sys.exit(1)


def parse(path):
    """Returns (metadata, {name: (dtype, shape, raw bytes)}) after validating the layout."""
    with open(path, "rb") as file:
        content = file.read()
    if len(content) < 8:
        fail(f"{path}: {len(content)} bytes is too short for a header")
    (header_size,) = struct.unpack("<Q", content[:8])
    if 8 + header_size > len(content):
        fail(f"{path}: header length {header_size} exceeds the file")
    header = json.loads(content[8 : 8 + header_size].decode("utf-8"))
    data = content[8 + header_size :]
    metadata = header.pop("__metadata__", {})
    tensors = {}
    covered = []
    for name, entry in header.items():
        dtype = entry["dtype"]
        if dtype not in NUMPY_DTYPES:
            fail(f"{name}: unknown dtype {dtype}")
        begin, end = entry["data_offsets"]
        itemsize = np.dtype(NUMPY_DTYPES[dtype][0]).itemsize
        if end - begin != int(np.prod(entry["shape"], dtype=np.int64)) * itemsize:
            fail(f"{name}: data_offsets {begin}..{end} do not hold shape {entry['shape']} of {dtype}")
        tensors[name] = (dtype, tuple(entry["shape"]), data[begin:end])
        covered.append((begin, end))
    position = 0
    for begin, end in sorted(covered):
        if begin != position:
            fail(f"{path}: data has a gap or overlap at byte {begin}")
        position = end
    if position != len(data):
        fail(f"{path}: tensors cover {position} of {len(data)} data bytes")
    return metadata, tensors


def expected_bits(spec):
    return np.array(spec["bits"], dtype=NUMPY_DTYPES[spec["dtype"]][1]).reshape(spec["shape"])


def check_numpy(name, dtype, shape, raw, spec):
    if dtype != spec["dtype"] or list(shape) != spec["shape"]:
        fail(f"{name}: {dtype} {list(shape)} in the file, expected {spec['dtype']} {spec['shape']}")
    values = np.frombuffer(raw, dtype=NUMPY_DTYPES[dtype][0]).reshape(shape)
    bits = values.view(NUMPY_DTYPES[dtype][1])
    if not np.array_equal(bits, expected_bits(spec)):
        fail(f"{name}: bits {bits.ravel().tolist()} differ from {spec['bits']}")


def as_float32(dtype, raw, shape):
    """numpy's reading of floating data as float32 (BF16 is the high half of a float32)."""
    if dtype == "BF16":
        high = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        return high.view(np.float32).reshape(shape)
    return np.frombuffer(raw, dtype=NUMPY_DTYPES[dtype][0]).astype(np.float32).reshape(shape)


def check_torch(torch, name, dtype, shape, raw):
    torch_dtypes = {
        "F32": torch.float32,
        "F16": torch.float16,
        "BF16": torch.bfloat16,
        "I32": torch.int32,
        "I64": torch.int64,
        "U8": torch.uint8,
    }
    # torch.frombuffer refuses an empty buffer.
    if len(raw) == 0:
        tensor = torch.empty(shape, dtype=torch_dtypes[dtype])
    else:
        tensor = torch.frombuffer(bytearray(raw), dtype=torch_dtypes[dtype]).reshape(shape)
    if tuple(tensor.shape) != tuple(shape):
        fail(f"{name}: torch shape {tuple(tensor.shape)}, expected {shape}")
    if dtype in ("F32", "F16", "BF16"):
        expected = as_float32(dtype, raw, shape)
        actual = tensor.to(torch.float32).numpy()
        if not np.array_equal(actual, expected, equal_nan=True):
            fail(f"{name}: torch reads {actual.ravel().tolist()}, numpy {expected.ravel().tolist()}")
    else:
        expected = np.frombuffer(raw, dtype=NUMPY_DTYPES[dtype][0]).reshape(shape)
        if not np.array_equal(tensor.numpy(), expected):
            fail(f"{name}: torch reads {tensor.numpy().ravel().tolist()}, expected {expected.ravel().tolist()}")


def main():
    if len(sys.argv) != 3:
        fail("usage: read_safetensors.py FILE EXPECTED_JSON")
    path, expected_path = sys.argv[1], sys.argv[2]
    with open(expected_path, encoding="utf-8") as file:
        expected = json.load(file)
    metadata, tensors = parse(path)
    if metadata != expected.get("metadata", {}):
        fail(f"metadata {metadata} differs from {expected.get('metadata', {})}")
    if sorted(tensors) != sorted(expected["tensors"]):
        fail(f"tensors {sorted(tensors)} differ from {sorted(expected['tensors'])}")
    for name, (dtype, shape, raw) in tensors.items():
        check_numpy(name, dtype, shape, raw, expected["tensors"][name])
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        for name, (dtype, shape, raw) in tensors.items():
            check_torch(torch, name, dtype, shape, raw)
    print(f"read_safetensors.py: {len(tensors)} tensors match" + (" (numpy and torch)" if torch else " (numpy)"))


if __name__ == "__main__":
    main()
