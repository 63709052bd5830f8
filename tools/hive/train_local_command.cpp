// `hive train-local`: trains the Fashion-MNIST classifier with a local MoE layer on the CPU or a
// GPU (--device), evaluates on the 10k test images after every epoch, and can checkpoint and
// resume.
#include <cstdio>
#include <filesystem>
#include <string>

#include "engine/autograd/grad_mode.h"
#include "engine/cpu/cpu_threads.h"
#include "engine/data/batches.h"
#include "engine/data/fashion_mnist.h"
#include "engine/io/checkpoint.h"
#include "engine/nn/metrics.h"
#include "engine/ops.h"
#include "engine/optim/adam.h"
#include "engine/optim/clip_grad.h"
#include "engine/optim/lr_schedule.h"
#include "tools/hive/commands.h"
#include "tools/hive/device_option.h"
#include "tools/hive/fashion_mnist_classifier.h"
#include "tools/hive/grid_option.h"
#include "tools/hive/progress_bar.h"
#include "tools/hive/text_format.h"

namespace hive::tools {
namespace {

struct TrainLocalOptions {
  std::string data_dir = data::kFashionMnistDir;
  int epochs = 8;
  int64_t batch_size = 128;
  float lr = 2e-3f;
  float weight_decay = 0.01f;
  int64_t warmup_steps = 200;
  float clip_norm = 1.0f;
  int64_t train_limit = 0;
  int threads = 0;
  std::string checkpoint_dir;
  std::string grid = "4x4";
  std::string device = "cpu";
  std::string precision = "f32";
  ClassifierConfig model;
};

// The batch on the model's device, its inputs in the compute dtype (labels stay integers).
data::Batch prepared(const data::Batch& batch, Device device, DType precision) {
  data::Batch result = data::on_device(batch, device);
  result.inputs = result.inputs.to(precision);
  return result;
}

double evaluate(FashionMnistClassifier& model, const data::LabeledImages& split, int64_t batch_size,
                Device device, DType precision) {
  NoGradGuard no_grad;
  model.set_mode(nn::Mode::kEval);
  const int64_t rows = split.images.size(0);
  int64_t correct = 0;
  for (int64_t index = 0; index * batch_size < rows; ++index) {
    const data::Batch batch = prepared(
        data::sequential_batch(split.images, split.labels, batch_size, index), device, precision);
    correct += nn::count_correct(model.forward(batch.inputs), batch.labels);
  }
  model.set_mode(nn::Mode::kTrain);
  return static_cast<double>(correct) / static_cast<double>(rows);
}

int run_train_local(TrainLocalOptions options) {
  if (options.threads > 0) set_cpu_threads(options.threads);
  options.model.grid = parse_grid(options.grid);
  const Device device = parse_compute_device(options.device).value_or_throw();
  const DType precision = parse_compute_precision(options.precision).value_or_throw();
  data::FashionMnist dataset = data::load_fashion_mnist(options.data_dir).value_or_throw();
  if (options.train_limit > 0 && options.train_limit < dataset.train.images.size(0)) {
    dataset.train.images = dataset.train.images.rows(0, options.train_limit);
    dataset.train.labels = dataset.train.labels.rows(0, options.train_limit);
  }

  FashionMnistClassifier model(options.model);
  model.to(device);
  data::ShuffledBatches batches(dataset.train.images, dataset.train.labels, options.batch_size,
                                options.model.seed);
  const int64_t steps_per_epoch = batches.batches_per_epoch();
  HIVE_REQUIRE(steps_per_epoch > 0, "train-local: ", dataset.train.images.size(0),
               " training rows do not fill one batch of ", options.batch_size);
  const int64_t total_steps = steps_per_epoch * options.epochs;
  optim::AdamW optimizer(model.named_parameters(),
                         {.lr = options.lr, .weight_decay = options.weight_decay});
  const optim::LinearWarmupDecay schedule(options.lr, std::min(options.warmup_steps, total_steps),
                                          total_steps);
  std::fprintf(stderr,
               "train-local: %lld parameters, %lld experts (grid %s, k=%lld), %lld training rows, "
               "%lld test rows, %d threads, on %s in %s\n",
               static_cast<long long>(model.parameter_count()),
               static_cast<long long>(grid_size(options.model.grid)), options.grid.c_str(),
               static_cast<long long>(options.model.k),
               static_cast<long long>(dataset.train.images.size(0)),
               static_cast<long long>(dataset.test.images.size(0)), cpu_threads(),
               device.str().c_str(), std::string(dtype_name(precision)).c_str());

  int first_epoch = 0;
  if (!options.checkpoint_dir.empty() &&
      std::filesystem::exists(options.checkpoint_dir + "/model.safetensors")) {
    const io::Metadata metadata =
        io::load_checkpoint(options.checkpoint_dir, model, optimizer).value_or_throw();
    first_epoch = std::stoi(metadata.at("epochs_done"));
    std::fprintf(stderr, "train-local: resumed from '%s' after epoch %d\n",
                 options.checkpoint_dir.c_str(), first_epoch);
  }

  double test_accuracy =
      first_epoch > 0 ? evaluate(model, dataset.test, 1000, device, precision) : 0.0;
  for (int epoch = first_epoch; epoch < options.epochs; ++epoch) {
    ProgressBar progress(str_cat("epoch ", epoch + 1, "/", options.epochs), steps_per_epoch);
    double loss_sum = 0.0;
    int64_t correct = 0;
    int64_t seen = 0;
    for (int64_t index = 0; index < steps_per_epoch; ++index) {
      optimizer.set_lr(schedule.lr_at(epoch * steps_per_epoch + index));
      const data::Batch batch = prepared(batches.batch(epoch, index), device, precision);
      const Tensor logits = model.forward(batch.inputs);
      const Tensor loss = cross_entropy(logits, batch.labels);
      optimizer.zero_grad();
      loss.backward();
      optim::clip_grad_norm(model.parameters(), options.clip_norm);
      optimizer.step();

      loss_sum += static_cast<double>(loss.item<float>()) * static_cast<double>(batch.labels.numel());
      correct += nn::count_correct(logits, batch.labels);
      seen += batch.labels.numel();
      progress.update(index + 1, format("loss %.4f acc %.4f %.0f samples/s", loss_sum / seen,
                                        static_cast<double>(correct) / seen,
                                        static_cast<double>(seen) / progress.elapsed_seconds()));
    }
    const double train_seconds = progress.elapsed_seconds();
    test_accuracy = evaluate(model, dataset.test, 1000, device, precision);
    progress.finish(format("loss %.4f acc %.4f test_acc %.4f (%.0f samples/s)", loss_sum / seen,
                           static_cast<double>(correct) / seen, test_accuracy, seen / train_seconds));
    if (!options.checkpoint_dir.empty()) {
      io::save_checkpoint(options.checkpoint_dir, model, optimizer,
                          {{"epochs_done", std::to_string(epoch + 1)}})
          .throw_if_error();
    }
  }
  std::printf("test_accuracy=%.4f\n", test_accuracy);
  return 0;
}

}  // namespace

Command add_train_local_command(CLI::App& app) {
  auto options = std::make_shared<TrainLocalOptions>();
  CLI::App* command = app.add_subcommand(
      "train-local",
      "Train an MLP with a local mixture-of-experts layer on Fashion-MNIST (CPU or GPU); prints "
      "test_accuracy=<float> at the end");
  command->add_option("--data-dir", options->data_dir, "Fashion-MNIST IDX files")->capture_default_str();
  command->add_option("--epochs", options->epochs, "Passes over the training set")
      ->capture_default_str()->check(CLI::PositiveNumber);
  command->add_option("--batch-size", options->batch_size, "Rows per training step")
      ->capture_default_str()->check(CLI::PositiveNumber);
  command->add_option("--lr", options->lr, "Peak learning rate (AdamW, linear warmup then decay)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  command->add_option("--weight-decay", options->weight_decay, "AdamW decoupled weight decay")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  command->add_option("--warmup-steps", options->warmup_steps, "Learning-rate warmup steps")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  command->add_option("--clip-norm", options->clip_norm, "Gradient-norm clipping threshold")
      ->capture_default_str()->check(CLI::PositiveNumber);
  command->add_option("--hidden", options->model.hidden, "Width of the MoE layer and its experts")
      ->capture_default_str()->check(CLI::PositiveNumber);
  command->add_option("--grid", options->grid, "Expert grid, e.g. 4x4 or 8x8")->capture_default_str();
  command->add_option("--device", options->device, "cpu, or cuda[:N] in a build with CUDA")
      ->capture_default_str();
  command->add_option("--precision", options->precision,
                      "Compute dtype: f32, or bf16 (f32 master weights and optimizer state)")
      ->capture_default_str();
  command->add_option("--k", options->model.k, "Experts per row")->capture_default_str()->check(CLI::PositiveNumber);
  command->add_option("--dropout", options->model.dropout, "Dropout before the MoE layer")
      ->capture_default_str()->check(CLI::Range(0.0, 0.99));
  command->add_option("--seed", options->model.seed, "Seed of initialization, shuffling and dropout")
      ->capture_default_str();
  command->add_option("--train-limit", options->train_limit, "Use only the first N training rows (0: all)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  command->add_option("--threads", options->threads, "CPU threads (0: all cores)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  command->add_option("--checkpoint-dir", options->checkpoint_dir,
                      "Save a checkpoint here after every epoch, and resume from it if present");
  return {command, [options] { return run_train_local(*options); }};
}

}  // namespace hive::tools
