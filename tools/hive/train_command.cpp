// `hive train`: trains the Fashion-MNIST classifier whose middle layers are decentralized MoE
// layers (dmoe_classifier.h) against the experts of a swarm, found through the DHT from
// --initial-peers. Several batches are in flight (replica_trainer.h), so the trainer waits for
// many experts at once. It evaluates on the 10k test images after every epoch and ends with one
// line on stdout: test_accuracy=<float>.
//
// Threads: the endpoint's I/O thread runs the trainer's DHT node (client mode: it serves
// nothing) and the expert calls; --in-flight worker threads run the batches.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "dht/node/dht_runner.h"
#include "engine/cpu/cpu_threads.h"
#include "engine/data/batches.h"
#include "engine/data/fashion_mnist.h"
#include "engine/optim/adam.h"
#include "engine/optim/lr_schedule.h"
#include "moe/client/beam_search.h"
#include "moe/client/remote_expert_pool.h"
#include "net/loop/event_loop.h"
#include "net/rpc/endpoint.h"
#include "tools/hive/commands.h"
#include "tools/hive/device_option.h"
#include "tools/hive/dmoe_classifier.h"
#include "tools/hive/grid_option.h"
#include "tools/hive/peer_setup.h"
#include "tools/hive/progress_bar.h"
#include "tools/hive/replica_trainer.h"
#include "tools/hive/text_format.h"

namespace hive::tools {
namespace {

struct TrainOptions {
  std::vector<std::string> initial_peers;
  std::string listen = "0.0.0.0:0";
  std::string identity;
  std::string data_dir = data::kFashionMnistDir;
  int epochs = 8;
  int64_t batch_size = 128;
  float lr = 2e-3f;
  float weight_decay = 0.01f;
  int64_t warmup_steps = 100;
  float clip_norm = 1.0f;
  int64_t train_limit = 0;
  int threads = 1;
  int in_flight = 4;
  int64_t emulated_round_trip_ms = 0;
  std::string grid = "8x8";
  std::string uid_prefix = "ffn";
  std::string device = "cpu";
  int64_t forward_timeout_ms = 5000;
  int64_t timeout_after_k_min_ms = 500;
  int64_t backward_timeout_ms = 5000;
  bool allow_zero_outputs = true;
  bool detect_anomalies = true;
  DmoeClassifierConfig model;
};

std::string failed_calls(const moe::RemoteMoeStats& stats) {
  return format("calls failed %llu/%llu",
                static_cast<unsigned long long>(stats.failed_forward_calls +
                                                stats.failed_backward_calls),
                static_cast<unsigned long long>(stats.forward_calls + stats.backward_calls));
}

int run_train(TrainOptions options) {
  const Result<Device> device_or_error = parse_compute_device(options.device);
  if (!device_or_error.is_ok()) {
    std::fprintf(stderr, "hive train: %s\n", device_or_error.status().message().c_str());
    return 2;
  }
  const Device device = device_or_error.value();
  set_cpu_threads(options.threads);
  std::vector<int64_t> grid;
  try {
    grid = parse_grid(options.grid);
  } catch (const Error& error) {
    std::fprintf(stderr, "hive train: --grid: %s\n", error.what());
    return 2;
  }
  auto initial_peers = parse_initial_peers(options.initial_peers);
  auto identity = load_identity(options.identity);
  if (!initial_peers.is_ok() || !identity.is_ok()) {
    std::fprintf(stderr, "hive train: %s\n",
                 (initial_peers.is_ok() ? identity.message() : initial_peers.message()).c_str());
    return 2;
  }
  if (initial_peers.value().empty()) {
    std::fprintf(stderr, "hive train: --initial-peers is required (the swarm's DHT nodes)\n");
    return 2;
  }
  data::FashionMnist dataset = data::load_fashion_mnist(options.data_dir).value_or_throw();
  if (options.train_limit > 0 && options.train_limit < dataset.train.images.size(0)) {
    dataset.train.images = dataset.train.images.rows(0, options.train_limit);
    dataset.train.labels = dataset.train.labels.rows(0, options.train_limit);
  }

  net::EventLoop loop;
  net::EndpointOptions endpoint_options;
  endpoint_options.emulated_round_trip = std::chrono::milliseconds(options.emulated_round_trip_ms);
  net::Endpoint endpoint(loop, std::move(identity).value(), endpoint_options);
  auto bound = endpoint.listen(options.listen);
  if (!bound.is_ok()) {
    std::fprintf(stderr, "hive train: --listen %s: %s\n", options.listen.c_str(),
                 bound.status().to_string().c_str());
    return 1;
  }
  auto advertised = advertised_address("hive train", "", bound.value());
  if (!advertised.is_ok()) {
    std::fprintf(stderr, "hive train: %s\n", advertised.message().c_str());
    return 1;
  }
  dht::DhtNodeOptions node_options;
  node_options.protocol.mode = dht::NodeMode::kClient;
  auto dht = std::make_unique<dht::DhtRunner>(endpoint, advertised.value(), node_options);
  const net::Status joined = dht->bootstrap(initial_peers.value()).get();
  if (!joined.is_ok()) {
    std::fprintf(stderr, "hive train: %s\n", joined.to_string().c_str());
    return 1;
  }

  {
    moe::BeamSearch beam_search(*dht, options.uid_prefix, grid);
    moe::RemoteExpertPool pool(endpoint);
    DmoeClassifierConfig model_config = options.model;
    model_config.layer.forward_timeout = std::chrono::milliseconds(options.forward_timeout_ms);
    model_config.layer.timeout_after_k_min =
        std::chrono::milliseconds(options.timeout_after_k_min_ms);
    model_config.layer.backward_timeout = std::chrono::milliseconds(options.backward_timeout_ms);
    model_config.layer.allow_zero_outputs =
        options.allow_zero_outputs ? moe::AllowZeroOutputs::kYes : moe::AllowZeroOutputs::kNo;
    model_config.layer.detect_anomalies =
        options.detect_anomalies ? moe::DetectAnomalies::kYes : moe::DetectAnomalies::kNo;

    DmoeClassifier master(model_config, beam_search, pool);
    master.to(device);
    std::vector<std::unique_ptr<DmoeClassifier>> replicas;
    std::vector<nn::UnaryModule*> workers;
    for (int replica = 0; replica < options.in_flight; ++replica) {
      DmoeClassifierConfig replica_config = model_config;
      replica_config.seed = model_config.seed + 1 + static_cast<uint64_t>(replica);  // own dropout
      replicas.push_back(std::make_unique<DmoeClassifier>(replica_config, beam_search, pool));
      replicas.back()->to(device);
      workers.push_back(replicas.back().get());
    }
    const auto stats = [&] {
      moe::RemoteMoeStats total = master.stats();
      for (const auto& replica : replicas) total += replica->stats();
      return total;
    };

    data::ShuffledBatches batches(dataset.train.images, dataset.train.labels, options.batch_size,
                                  model_config.seed);
    const int64_t steps_per_epoch = batches.batches_per_epoch();
    HIVE_REQUIRE(steps_per_epoch > 0, "train: ", dataset.train.images.size(0),
                 " training rows do not fill one batch of ", options.batch_size);
    const int64_t total_steps = steps_per_epoch * options.epochs;
    optim::AdamW optimizer(master.named_parameters(),
                           {.lr = options.lr, .weight_decay = options.weight_decay});
    const optim::LinearWarmupDecay schedule(options.lr, std::min(options.warmup_steps, total_steps),
                                            total_steps);
    ReplicaTrainer trainer(master, workers, optimizer, {.clip_norm = options.clip_norm});
    std::fprintf(stderr,
                 "hive train: %lld parameters here, %lld DMoE layers over '%s.' grid %s (k=%lld), "
                 "%d batches in flight, %lld training rows\n",
                 static_cast<long long>(master.parameter_count()),
                 static_cast<long long>(model_config.moe_layers), options.uid_prefix.c_str(),
                 options.grid.c_str(), static_cast<long long>(model_config.layer.k_best),
                 options.in_flight, static_cast<long long>(dataset.train.images.size(0)));

    const int64_t test_rows = dataset.test.images.size(0);
    const int64_t test_batch = 500;
    double test_accuracy = 0.0;
    for (int epoch = 0; epoch < options.epochs; ++epoch) {
      ProgressBar progress(str_cat("epoch ", epoch + 1, "/", options.epochs), steps_per_epoch);
      double loss_sum = 0.0;
      int64_t correct = 0;
      int64_t seen = 0;
      int64_t done = 0;
      trainer.train(
          epoch * steps_per_epoch, (epoch + 1) * steps_per_epoch,
          [&](int64_t step) {
            return data::on_device(batches.batch(epoch, step - epoch * steps_per_epoch), device);
          },
          [&](int64_t step) { return schedule.lr_at(step); },
          [&](const StepOutcome& outcome) {
            loss_sum += outcome.loss * static_cast<double>(outcome.rows);
            correct += outcome.correct;
            seen += outcome.rows;
            progress.update(++done,
                            format("loss %.4f acc %.4f %.0f samples/s %s", loss_sum / seen,
                                   static_cast<double>(correct) / seen,
                                   static_cast<double>(seen) / progress.elapsed_seconds(),
                                   failed_calls(stats()).c_str()));
          });
      const double train_seconds = progress.elapsed_seconds();
      const int64_t right = trainer.count_correct((test_rows + test_batch - 1) / test_batch,
                                                  [&](int64_t index) {
                                                    return data::on_device(
                                                        data::sequential_batch(
                                                            dataset.test.images,
                                                            dataset.test.labels, test_batch, index),
                                                        device);
                                                  });
      test_accuracy = static_cast<double>(right) / static_cast<double>(test_rows);
      progress.finish(format("loss %.4f acc %.4f test_acc %.4f (%.0f samples/s) %s, %lld steps "
                             "dropped",
                             loss_sum / std::max<int64_t>(seen, 1),
                             static_cast<double>(correct) / std::max<int64_t>(seen, 1),
                             test_accuracy, seen / train_seconds, failed_calls(stats()).c_str(),
                             static_cast<long long>(trainer.failed_steps())));
    }
    std::printf("test_accuracy=%.4f\n", test_accuracy);
    std::fflush(stdout);
  }
  dht.reset();
  endpoint.shutdown();
  return 0;
}

}  // namespace

Command add_train_command(CLI::App& app) {
  auto options = std::make_shared<TrainOptions>();
  CLI::App* command = app.add_subcommand(
      "train",
      "Train a Fashion-MNIST classifier with decentralized MoE layers against a swarm's experts; "
      "prints test_accuracy=<float> at the end");
  command->add_option("--initial-peers", options->initial_peers,
                      "HOST:PORT of the swarm's DHT nodes (repeatable or comma separated)")
      ->delimiter(',')->required();
  command->add_option("--listen", options->listen, "Address of this trainer's endpoint")
      ->capture_default_str();
  command->add_option("--identity", options->identity,
                      "Identity file, created if missing (default: a fresh key every run)");
  command->add_option("--data-dir", options->data_dir, "Fashion-MNIST IDX files")->capture_default_str();
  command->add_option("--epochs", options->epochs, "Passes over the training set")
      ->capture_default_str()->check(CLI::PositiveNumber);
  command->add_option("--batch-size", options->batch_size, "Rows per training step")
      ->capture_default_str()->check(CLI::PositiveNumber);
  command->add_option("--lr", options->lr, "Peak learning rate of the trainer's parameters (AdamW)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  command->add_option("--weight-decay", options->weight_decay, "AdamW decoupled weight decay")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  command->add_option("--warmup-steps", options->warmup_steps, "Learning-rate warmup steps")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  command->add_option("--clip-norm", options->clip_norm, "Gradient-norm clipping threshold")
      ->capture_default_str()->check(CLI::PositiveNumber);
  command->add_option("--hidden", options->model.hidden,
                      "Width of the DMoE layers (the servers' --hidden-dim)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  command->add_option("--moe-layers", options->model.moe_layers, "DMoE layers")
      ->capture_default_str()->check(CLI::PositiveNumber);
  command->add_option("--grid", options->grid, "Expert grid, e.g. 8x8")->capture_default_str();
  command->add_option("--uid-prefix", options->uid_prefix, "Prefix of the experts' uids")
      ->capture_default_str();
  command->add_option("--k", options->model.layer.k_best, "Experts per row")
      ->capture_default_str()->check(CLI::PositiveNumber);
  command->add_option("--k-min", options->model.layer.k_min,
                      "Answers per row to wait for before --timeout-after-k-min starts")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  command->add_option("--forward-timeout-ms", options->forward_timeout_ms,
                      "Expert search and forward calls of one batch, at most")
      ->capture_default_str()->check(CLI::PositiveNumber);
  command->add_option("--timeout-after-k-min-ms", options->timeout_after_k_min_ms,
                      "How long to wait for stragglers once every row has k-min answers")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  command->add_option("--backward-timeout-ms", options->backward_timeout_ms,
                      "Backward calls of one batch, at most")
      ->capture_default_str()->check(CLI::PositiveNumber);
  command->add_flag("--allow-zero-outputs,!--no-allow-zero-outputs", options->allow_zero_outputs,
                    "A row that no expert answered gets zeros (else the step is dropped)")
      ->capture_default_str();
  command->add_flag("--detect-anomalies,!--no-detect-anomalies", options->detect_anomalies,
                    "An expert answering NaN or Inf counts as failed")
      ->capture_default_str();
  command->add_option("--in-flight", options->in_flight, "Batches in flight (worker threads)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  command->add_option("--emulate-round-trip-ms", options->emulated_round_trip_ms,
                      "Experiments: hold every reply (experts and DHT) this long, as over a link "
                      "with this extra round trip (for kernels without tc netem)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  command->add_option("--dropout", options->model.dropout, "Dropout before the DMoE layers")
      ->capture_default_str()->check(CLI::Range(0.0, 0.99));
  command->add_option("--seed", options->model.seed, "Seed of initialization, shuffling and dropout")
      ->capture_default_str();
  command->add_option("--train-limit", options->train_limit, "Use only the first N training rows (0: all)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  command->add_option("--threads", options->threads, "CPU threads of each step's local math")
      ->capture_default_str()->check(CLI::PositiveNumber);
  command->add_option("--device", options->device,
                      "cpu, or cuda[:N] in a build with CUDA: where the trainer's own layers "
                      "(input projection, gating, classifier) compute")
      ->capture_default_str();
  return {command, [options] { return run_train(*options); }};
}

}  // namespace hive::tools
