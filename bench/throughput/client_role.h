// The client side of the benchmark, run in a process of its own (hivemind's client_process):
// several client threads, each sending num_batches calls to random experts of the server with
// one fixed random batch, forward and, with backprop, backward with the gradient of out.sum()
// (all ones), one call at a time, as a trainer's loop would.
//
// It talks to the parent over its standard streams, one line each way:
//   stdout "ready"                      the process is set up (endpoint, batches) and waits;
//   stdin  "<server address>"           go (hivemind's can_start event, with the address);
//   stdout "done <examples> <seconds>"  every client finished, or "failed <message>".
#pragma once

#include <cstdint>
#include <string>

namespace hive::throughput {

struct ClientRoleOptions {
  int64_t clients = 1;            // client threads in this process
  int64_t first_client = 0;       // global index of the first one (seeds its batch)
  int64_t num_experts = 16;       // the server's experts are expert.0 ... expert.<n-1>
  int64_t num_batches = 16;       // calls per client
  int64_t batch_size = 2048;
  int64_t hid_dim = 1024;
  bool backprop = true;
  double timeout_s = 600;         // per call; the server may hold a call behind many others
};

// Exit status: 0 after "done", 1 after "failed".
int run_client_role(const ClientRoleOptions& options);

}  // namespace hive::throughput
