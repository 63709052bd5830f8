#include "bench/throughput/client_role.h"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "engine/core/random.h"
#include "engine/core/tensor.h"
#include "engine/cpu/cpu_threads.h"
#include "moe/client/remote_expert.h"
#include "net/identity/identity.h"
#include "net/loop/event_loop.h"
#include "net/rpc/endpoint.h"

namespace hive::throughput {
namespace {

// The first failure of any client thread; the others stop at their next batch.
class FirstFailure {
 public:
  void set(std::string message) {
    std::lock_guard lock(mutex_);
    if (!message_) message_ = std::move(message);
  }
  std::optional<std::string> get() {
    std::lock_guard lock(mutex_);
    return message_;
  }

 private:
  std::mutex mutex_;
  std::optional<std::string> message_;
};

net::Status status_of(std::future<net::Result<std::vector<Tensor>>> call) {
  return call.get().status();
}

void run_client(const ClientRoleOptions& options, int64_t client,
                std::vector<moe::RemoteExpert>& experts, FirstFailure& failure) {
  // Seeded per client, like hivemind's one torch.randn batch per client process.
  Generator generator(static_cast<uint64_t>(client) + 1);
  const Tensor batch = Tensor::randn(Shape{options.batch_size, options.hid_dim}, generator);
  const Tensor grad_of_sum = Tensor::ones(Shape{options.batch_size, options.hid_dim});
  std::mt19937_64 choice(static_cast<uint64_t>(client));
  std::uniform_int_distribution<size_t> any_expert(0, experts.size() - 1);
  const std::vector<Tensor> inputs{batch};
  const std::vector<Tensor> grad_outputs{grad_of_sum};

  for (int64_t i = 0; i < options.num_batches; ++i) {
    if (failure.get()) return;
    moe::RemoteExpert& expert = experts[any_expert(choice)];
    net::Status status = status_of(expert.forward(inputs));
    if (status.is_ok() && options.backprop) status = status_of(expert.backward(inputs, grad_outputs));
    if (!status.is_ok()) {
      failure.set("client " + std::to_string(client) + ", batch " + std::to_string(i) + ": " +
                  status.to_string());
      return;
    }
  }
}

}  // namespace

int run_client_role(const ClientRoleOptions& options) {
  // One core's worth of engine threads per client process: the cores belong to the server.
  set_cpu_threads(1);
  net::EventLoop loop;
  net::Endpoint endpoint(loop, net::Identity::generate());
  std::printf("ready\n");
  std::fflush(stdout);

  std::string address_text;
  if (!std::getline(std::cin, address_text)) {
    std::printf("failed the parent closed stdin before sending the server's address\n");
    return 1;
  }
  auto address = net::SocketAddress::parse(address_text);
  if (!address.is_ok()) {
    std::printf("failed server address '%s': %s\n", address_text.c_str(),
                address.status().to_string().c_str());
    return 1;
  }

  moe::RemoteExpertOptions call_options;
  call_options.timeout = std::chrono::milliseconds(static_cast<int64_t>(options.timeout_s * 1000));
  std::vector<moe::RemoteExpert> experts;
  for (int64_t i = 0; i < options.num_experts; ++i) {
    experts.emplace_back(endpoint, address.value(),
                         moe::ExpertUid::parse("expert." + std::to_string(i)).value(), call_options);
  }

  FirstFailure failure;
  const auto began = std::chrono::steady_clock::now();
  {
    std::vector<std::jthread> clients;
    for (int64_t c = 0; c < options.clients; ++c) {
      clients.emplace_back([&, c] { run_client(options, options.first_client + c, experts, failure); });
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  endpoint.shutdown();

  if (const auto message = failure.get()) {
    std::printf("failed %s\n", message->c_str());
    return 1;
  }
  std::printf("done %lld %.6f\n",
              static_cast<long long>(options.clients * options.num_batches * options.batch_size), seconds);
  return 0;
}

}  // namespace hive::throughput
