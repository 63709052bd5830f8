// The client processes of one run: this same program, started with posix_spawn (a fork that
// execs at once, so the server's threads are never copied) in its client role, each with
// pipes on its standard streams (client_role.h says what goes over them).
//
// Threads: one owner thread. The destructor kills (SIGKILL, by pid) and reaps every process
// still running, so an early error in the parent never leaves clients behind.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bench/throughput/client_role.h"
#include "engine/core/status.h"

namespace hive::throughput {

struct ClientOutcome {
  int64_t examples = 0;  // rows whose calls all succeeded
  double seconds = 0;    // the process's own time from go to its last reply
};

class ClientProcesses {
 public:
  // Spawns `processes` copies of `program` in the client role, sharing `options.clients`
  // clients between them as evenly as possible. OMP_WAIT_POLICY=passive and one engine thread
  // each: an idle client must not spin on a core the server needs.
  ClientProcesses(const std::string& program, int64_t processes, const ClientRoleOptions& options);
  ~ClientProcesses();
  ClientProcesses(const ClientProcesses&) = delete;
  ClientProcesses& operator=(const ClientProcesses&) = delete;

  // Blocks until every process has said "ready"; an error names the first one that did not.
  Status wait_ready();
  // Sends every process the server's address: the clients start calling.
  Status start(const std::string& server_address);
  // Blocks until every process has reported and exited; the sum of their outcomes, or the
  // first failure (with the process's own message).
  Result<ClientOutcome> finish();

  size_t size() const { return processes_.size(); }

 private:
  struct Process {
    pid_t pid = -1;
    int to_child = -1;    // its stdin
    FILE* from_child = nullptr;  // its stdout
  };
  // The next line the process wrote, without the newline; an error at end of file.
  Result<std::string> read_line(Process& process, size_t index);
  // Waits for the process to exit; an error unless it exited with 0.
  Status reap(Process& process, size_t index);

  std::vector<Process> processes_;
};

}  // namespace hive::throughput
