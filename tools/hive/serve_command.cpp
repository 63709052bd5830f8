// `hive serve`: serves experts until SIGINT or SIGTERM. The experts are named by --expert-uids,
// or drawn from --expert-pattern (--num-experts of them, skipping uids the DHT says are served
// already). Their RPC and this server's DHT node share one endpoint, so the one address printed
// reaches both. Once the experts are announced it prints, on stdout, one `serving UID at ADDRESS`
// line per expert and one `--initial-peers ADDRESS` line for other peers to join with.
//
// On SIGINT/SIGTERM it stops announcing, lets the running batches finish, answers the queued
// calls with kUnavailable, writes a last checkpoint (with --checkpoint-dir) and exits with 0.
// Exit 2: a bad setting, found before anything starts; exit 1: a failure while starting (the
// initial peers do not answer, too few free uids, a checkpoint that does not fit).
//
// Threads: the main thread waits for the signals (termination_signals.h); the endpoint's I/O
// thread runs the DHT node and the RPC; one runtime thread per device computes; the announcer
// has its own thread.
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dht/node/dht_runner.h"
#include "engine/cpu/cpu_threads.h"
#include "moe/experts/builtin_experts.h"
#include "moe/server/expert_announcer.h"
#include "moe/server/expert_server.h"
#include "net/loop/event_loop.h"
#include "net/rpc/endpoint.h"
#include "tools/hive/commands.h"
#include "tools/hive/configurable_command.h"
#include "tools/hive/expert_settings.h"
#include "tools/hive/free_expert_uids.h"
#include "tools/hive/peer_setup.h"
#include "tools/hive/termination_signals.h"

namespace hive::tools {
namespace {

constexpr int kBadSetting = 2;
constexpr int kStartFailed = 1;

struct ServeOptions {
  std::string listen = "0.0.0.0:0";
  std::string advertise;
  std::vector<std::string> initial_peers;
  std::string identity;
  ExpertFlags experts;
  double max_wait_ms = 1;
  std::string checkpoint_dir;
  double checkpoint_period_s = 60;
  double announce_period_s = 30;
  int threads = 0;  // 0: every core
  double fail_fraction = 0;
  double stall_fraction = 0;
};

template <typename Duration>
Duration from_seconds(double seconds) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds));
}

int fail(int code, const std::string& message) {
  std::fprintf(stderr, "hive serve: %s\n", message.c_str());
  return code;
}

int run_serve(const ServeOptions& options) {
  const moe::ExpertRegistry registry = moe::builtin_expert_registry();
  auto settings = resolve_expert_settings(options.experts, registry);
  if (!settings.is_ok()) return fail(kBadSetting, settings.status().message());
  auto initial_peers = parse_initial_peers(options.initial_peers);
  if (!initial_peers.is_ok()) return fail(kBadSetting, initial_peers.status().message());
  auto identity = load_identity(options.identity);
  if (!identity.is_ok()) return fail(kBadSetting, identity.status().message());
  if (options.fail_fraction + options.stall_fraction > 1.0) {
    return fail(kBadSetting, str_cat("--fail-fraction ", options.fail_fraction,
                                     " and --stall-fraction ", options.stall_fraction,
                                     " add up to more than 1"));
  }
  if (options.threads > 0) set_cpu_threads(options.threads);

  const TerminationSignals signals;  // before any thread starts: threads inherit the mask
  net::EventLoop loop;
  net::Endpoint endpoint(loop, std::move(identity).value());
  auto bound = endpoint.listen(options.listen);
  if (!bound.is_ok()) return fail(kStartFailed, bound.status().to_string());
  auto advertised = advertised_address("hive serve", options.advertise, bound.value());
  if (!advertised.is_ok()) return fail(kBadSetting, advertised.status().message());
  const net::PeerId& self = endpoint.identity().peer_id();

  auto dht = std::make_unique<dht::DhtRunner>(endpoint, advertised.value());
  const net::Status bootstrapped = dht->bootstrap(initial_peers.value()).get();
  if (!bootstrapped.is_ok()) return fail(kStartFailed, bootstrapped.to_string());

  std::vector<moe::ExpertUid> uids = settings.value().uids;
  if (settings.value().pattern.has_value()) {
    auto chosen = choose_free_uids(*dht, *settings.value().pattern, settings.value().num_experts,
                                   settings.value().seed, self);
    if (!chosen.is_ok()) return fail(kStartFailed, chosen.status().message());
    uids = std::move(chosen).value();
  }
  auto backends = build_backends(settings.value(), uids, registry);
  if (!backends.is_ok()) return fail(kBadSetting, backends.status().message());

  moe::ExpertServerOptions server_options;
  server_options.max_wait = from_seconds<std::chrono::nanoseconds>(options.max_wait_ms / 1000);
  if (!options.checkpoint_dir.empty()) server_options.checkpoint_dir = options.checkpoint_dir;
  server_options.checkpoint_period = from_seconds<std::chrono::milliseconds>(options.checkpoint_period_s);
  server_options.faults = {.fail_fraction = options.fail_fraction,
                           .stall_fraction = options.stall_fraction,
                           .seed = settings.value().seed};
  // Restores each expert from its checkpoint, if there is one.
  moe::ExpertServer server(endpoint, std::move(backends).value(), server_options);

  moe::ExpertAnnouncer announcer(
      *dht, uids, advertised.value(), self,
      {.period = from_seconds<std::chrono::milliseconds>(options.announce_period_s)});
  if (const net::Status announced = announcer.wait_first_announcement(); !announced.is_ok()) {
    // Not fatal: the announcer tries again every period, and callers who know the address can
    // call the experts meanwhile.
    std::fprintf(stderr, "hive serve: warning: first announcement failed: %s\n",
                 announced.to_string().c_str());
  }

  const ExpertSettings& served = settings.value();
  std::fprintf(stderr, "hive serve: peer id %s, listening on %s; %zu %s experts, hidden size %lld, on %s\n",
               self.to_hex().c_str(), bound.value().to_string().c_str(), uids.size(), served.type.c_str(),
               static_cast<long long>(served.hidden), served.device.str().c_str());
  for (const moe::ExpertUid& uid : uids) {
    std::printf("serving %s at %s\n", uid.to_string().c_str(), advertised.value().to_string().c_str());
  }
  std::printf("--initial-peers %s\n", advertised.value().to_string().c_str());
  std::fflush(stdout);

  const int signal = signals.wait();
  std::fprintf(stderr, "hive serve: %s, shutting down\n", signal_name(signal));
  announcer.stop();
  server.shutdown();  // finishes running batches, fails queued calls, writes the last checkpoint
  dht.reset();
  endpoint.shutdown();
  std::fprintf(stderr, "hive serve: stopped\n");
  return 0;
}

void add_expert_flags(CLI::App& command, ExpertFlags& flags) {
  command
      .add_option("--expert-uids", flags.expert_uids,
                  "Uids of the experts to serve, e.g. ffn.0.3 (repeatable or comma separated)")
      ->delimiter(',');
  command.add_option("--expert-pattern", flags.expert_pattern,
                     "Serve --num-experts uids drawn from this pattern, e.g. 'ffn.[0:16].[0:16]', skipping "
                     "uids the DHT says are served already");
  command.add_option("--num-experts", flags.num_experts, "How many uids to draw from --expert-pattern");
  command.add_option("--seed", flags.seed, "Seeds the uid draw and the experts' initial parameters")
      ->capture_default_str();
  command.add_option("--expert-type", flags.expert_type, "ffn, transformer, det_dropout, nop or nop_delay")
      ->capture_default_str();
  command.add_option("--hidden-dim", flags.hidden_dim, "Hidden size of every expert")->capture_default_str();
  command.add_option("--delay-ms", flags.delay_ms, "nop_delay: how long each forward waits")
      ->capture_default_str();
  command.add_option("--device", flags.device, "cpu, or cuda[:N] in a build with CUDA")
      ->capture_default_str();
  command.add_option("--optimizer", flags.optimizer, "Update after each backward batch: adam, sgd or none")
      ->capture_default_str();
  command.add_option("--lr", flags.lr, "Peak learning rate")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command
      .add_option("--max-grad-norm", flags.max_grad_norm,
                  "Clip the gradients' global norm to this (0: no clipping)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command
      .add_option("--warmup-steps", flags.warmup_steps, "Linear learning-rate warmup over this many updates")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command
      .add_option("--total-steps", flags.total_steps,
                  "Decay the learning rate linearly to 0 at this update (0: no decay)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command.add_option("--max-batch-size", flags.max_batch_size, "Most rows per call and per batch")
      ->capture_default_str();
}

}  // namespace

Command add_serve_command(CLI::App& app) {
  auto options = std::make_shared<ServeOptions>();
  CLI::App* command = add_configurable_subcommand(
      app, "serve",
      "Serve experts until SIGINT/SIGTERM; prints their uids and the --initial-peers argument for others");
  command->add_option("--listen", options->listen, "TCP and UDP address to listen on (port 0: any free one)")
      ->capture_default_str();
  command->add_option("--advertise", options->advertise,
                      "Address others reach this server at, HOST[:PORT] (default: the listening "
                      "address, or loopback when that is a wildcard)");
  command
      ->add_option("--initial-peers", options->initial_peers,
                   "HOST:PORT of DHT nodes already in the swarm (repeatable or comma separated; "
                   "none: start a new swarm)")
      ->delimiter(',');
  command->add_option("--identity", options->identity,
                      "Identity file, created if missing (default: a fresh key every run)");
  add_expert_flags(*command, options->experts);
  command
      ->add_option("--max-wait-ms", options->max_wait_ms,
                   "How long a call may wait for others to join its batch")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command->add_option("--checkpoint-dir", options->checkpoint_dir,
                      "Restore the experts from here at start, save them here periodically and at exit");
  command->add_option("--checkpoint-period", options->checkpoint_period_s, "Seconds between checkpoints")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command
      ->add_option("--announce-period", options->announce_period_s,
                   "Seconds between DHT announcements (records expire after two)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_option("--threads", options->threads, "CPU threads for compute (0: every core)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command
      ->add_option("--fail-fraction", options->fail_fraction,
                   "Fault injection: this fraction of forward/backward calls fails at once")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  command
      ->add_option("--stall-fraction", options->stall_fraction,
                   "Fault injection: this fraction of forward/backward calls is never answered")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  return {command, [options] { return run_serve(*options); }};
}

}  // namespace hive::tools
