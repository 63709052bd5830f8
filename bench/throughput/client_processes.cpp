#include "bench/throughput/client_processes.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <optional>
#include <sstream>

#include "engine/core/error.h"

extern char** environ;

namespace hive::throughput {
namespace {

std::vector<std::string> client_arguments(const std::string& program, const ClientRoleOptions& options,
                                          int64_t clients, int64_t first_client) {
  return {program,
          "--role=client",
          "--clients=" + std::to_string(clients),
          "--first-client=" + std::to_string(first_client),
          "--num-experts=" + std::to_string(options.num_experts),
          "--num-batches-per-client=" + std::to_string(options.num_batches),
          "--batch-size=" + std::to_string(options.batch_size),
          "--hid-dim=" + std::to_string(options.hid_dim),
          std::string("--backprop=") + (options.backprop ? "true" : "false"),
          "--timeout-s=" + std::to_string(options.timeout_s)};
}

// This process's environment with the client's threading settings in place of any it had.
std::vector<std::string> client_environment() {
  const std::vector<std::string> overrides{"OMP_WAIT_POLICY=passive", "OMP_NUM_THREADS=1",
                                           "OPENBLAS_NUM_THREADS=1"};
  std::vector<std::string> out;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text(*entry);
    const std::string name = text.substr(0, text.find('='));
    bool overridden = false;
    for (const std::string& each : overrides) overridden |= each.starts_with(name + "=");
    if (!overridden) out.push_back(text);
  }
  out.insert(out.end(), overrides.begin(), overrides.end());
  return out;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& each : strings) out.push_back(each.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

ClientProcesses::ClientProcesses(const std::string& program, int64_t processes,
                                 const ClientRoleOptions& options) {
  HIVE_REQUIRE(processes >= 1 && processes <= options.clients, "client processes ", processes,
               ": expected between 1 and the number of clients (", options.clients, ")");
  std::vector<std::string> environment = client_environment();
  std::vector<char*> envp = c_strings(environment);
  int64_t first_client = 0;
  for (int64_t p = 0; p < processes; ++p) {
    const int64_t clients = options.clients / processes + (p < options.clients % processes ? 1 : 0);
    std::vector<std::string> arguments = client_arguments(program, options, clients, first_client);
    std::vector<char*> argv = c_strings(arguments);
    first_client += clients;

    int stdin_pipe[2], stdout_pipe[2];
    // O_CLOEXEC: later children must not inherit this child's pipe ends, or its stdin would
    // never see end of file.
    HIVE_REQUIRE(::pipe2(stdin_pipe, O_CLOEXEC) == 0 && ::pipe2(stdout_pipe, O_CLOEXEC) == 0,
                 "pipe2 for client process ", p, ": ", std::strerror(errno));
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, stdin_pipe[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, stdout_pipe[1], STDOUT_FILENO);
    Process process;
    const int spawned = ::posix_spawn(&process.pid, program.c_str(), &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(stdin_pipe[0]);
    ::close(stdout_pipe[1]);
    if (spawned != 0) {
      ::close(stdin_pipe[1]);
      ::close(stdout_pipe[0]);
      throw Error(str_cat("posix_spawn of client process ", p, " (", program, "): ", std::strerror(spawned)));
    }
    process.to_child = stdin_pipe[1];
    process.from_child = ::fdopen(stdout_pipe[0], "r");
    processes_.push_back(process);
  }
}

ClientProcesses::~ClientProcesses() {
  for (Process& process : processes_) {
    if (process.to_child >= 0) ::close(process.to_child);
    if (process.from_child != nullptr) std::fclose(process.from_child);
    if (process.pid > 0) {
      ::kill(process.pid, SIGKILL);
      ::waitpid(process.pid, nullptr, 0);
    }
  }
}

Result<std::string> ClientProcesses::read_line(Process& process, size_t index) {
  std::string line;
  for (int c = std::fgetc(process.from_child); c != EOF && c != '\n'; c = std::fgetc(process.from_child)) {
    line.push_back(static_cast<char>(c));
  }
  if (line.empty() && std::feof(process.from_child)) {
    return Status::error(str_cat("client process ", index, " (pid ", process.pid,
                                 ") closed its output without a word: it crashed or could not start"));
  }
  return line;
}

Status ClientProcesses::reap(Process& process, size_t index) {
  int status = 0;
  const pid_t pid = process.pid;
  ::waitpid(pid, &status, 0);
  process.pid = -1;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::ok();
  return Status::error(str_cat("client process ", index, " (pid ", pid, ") ended with ",
                               WIFSIGNALED(status) ? "signal " : "exit status ",
                               WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status)));
}

Status ClientProcesses::wait_ready() {
  for (size_t i = 0; i < processes_.size(); ++i) {
    auto line = read_line(processes_[i], i);
    if (!line.is_ok()) return line.status();
    if (line.value() != "ready") {
      return Status::error(str_cat("client process ", i, ": expected 'ready', got '", line.value(), "'"));
    }
  }
  return Status::ok();
}

Status ClientProcesses::start(const std::string& server_address) {
  const std::string line = server_address + "\n";
  for (size_t i = 0; i < processes_.size(); ++i) {
    if (::write(processes_[i].to_child, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      return Status::error(str_cat("sending the server's address to client process ", i, ": ",
                                   std::strerror(errno)));
    }
  }
  return Status::ok();
}

Result<ClientOutcome> ClientProcesses::finish() {
  ClientOutcome total;
  std::optional<Status> first_failure;
  for (size_t i = 0; i < processes_.size(); ++i) {
    auto line = read_line(processes_[i], i);
    Status exited = reap(processes_[i], i);
    if (first_failure) continue;
    if (!line.is_ok()) {
      first_failure = line.status();
    } else if (line.value().starts_with("failed ")) {
      first_failure = Status::error(str_cat("client process ", i, ": ", line.value().substr(7)));
    } else if (!exited.is_ok()) {
      first_failure = exited;
    } else {
      std::istringstream words(line.value());
      std::string word;
      ClientOutcome outcome;
      if (!(words >> word >> outcome.examples >> outcome.seconds) || word != "done") {
        first_failure = Status::error(str_cat("client process ", i, ": expected 'done EXAMPLES SECONDS', got '",
                                              line.value(), "'"));
        continue;
      }
      total.examples += outcome.examples;
      total.seconds = std::max(total.seconds, outcome.seconds);
    }
  }
  if (first_failure) return *first_failure;
  return total;
}

}  // namespace hive::throughput
