package ai.bakery.runtime.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import ai.bakery.data.example.ExampleDataset;
import ai.bakery.data.text.TextTokenizer;
import ai.bakery.model.config.BagelConfig;
import ai.bakery.model.io.Dtype;
import ai.bakery.model.io.SafetensorsWriter;
import ai.bakery.model.nn.Init;
import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.bakery.model.vae.FluxAutoencoder;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.JobConfigLoader;
import ai.bakery.runtime.config.ModelSection;
import ai.djl.ndarray.NDManager;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fine-tuning recipe of the reference guide ({@code model_path} + {@code finetune_from_hf} +
 * {@code resume_model_only} + {@code finetune_from_ema}) on a released-style folder (configs, tokenizer.json,
 * ema.safetensors, ae.safetensors) starts from the same weights as {@code resume_model_only} +
 * {@code finetune_from_ema} on our own checkpoint holding that EMA: the first step's losses agree exactly.
 */
class FinetuneFromHfTest {
  private static final long SEED = 5;

  @TempDir
  Path tmp;

  private JobConfig job(Path run, List<String> model, List<String> checkpoint) {
    StringBuilder y = new StringBuilder("model:\n");
    model.forEach(l -> y.append("  ").append(l).append('\n'));
    y.append(String.join("\n",
        TinyJobYaml.dataAndOptimizer(tmp.resolve("example")),
        "  schedule:",
        "    warmup_steps: 0",
        "    total_steps: 1",
        "  ema:",
        "    ema: 0.5",
        "  checkpoint:",
        "    save_every: 100",
        ""));
    checkpoint.forEach(l -> y.append("    ").append(l).append('\n'));
    y.append(String.join("\n", "output:", "  results_dir: " + run, "runtime:", "  seed: " + SEED,
        "  num_workers: 1", ""));
    return JobConfigLoader.parse(y.toString(), List.of()).config();
  }

  @Test
  void finetuneFromAReleasedFolderMatchesModelOnlyResumeFromTheSameEma() throws Exception {
    ExampleDataset.write(tmp.resolve("example"), ExampleDataset.Options.DEFAULTS);
    TrainResult a = TrainJob.run(job(tmp.resolve("a"), List.of("preset: tiny"), List.of()));
    Path ckpt = tmp.resolve("a/checkpoints/0000000");

    // a released-style folder: the preset's configs, the tiny tokenizer, the checkpoint's EMA, a FLUX-style VAE
    Path hf = Files.createDirectories(tmp.resolve("hf"));
    Path preset = TrainJob.modelDir(new ModelSection("tiny", null, null, null, null, "Qwen2MoTDecoderLayer", true,
        false, 32, 2, 14, 70, "gelu_pytorch_tanh", false, -2, false, 0.1, 0.3, 0.3, 1.0, true, true, false, false,
        true, false, true, "sdpa", true, true, null));
    try (var files = Files.list(preset)) {
      for (Path f : (Iterable<Path>) files::iterator) {
        Files.copy(f, hf.resolve(f.getFileName()));
      }
    }
    try (InputStream in = TextTokenizer.class.getResourceAsStream(TextTokenizer.TINY_RESOURCE)) {
      Files.write(hf.resolve("tokenizer.json"), in.readAllBytes());
    }
    Files.copy(ckpt.resolve("ema.safetensors"), hf.resolve("ema.safetensors"));
    BagelConfig cfg = BagelConfig.readModelDir(preset);
    try (NDManager m = NDManager.newBaseManager(); ParameterStore vae = new ParameterStore(m)) {
      // the same seeded VAE the preset run built, so both runs encode images identically
      new FluxAutoencoder(cfg.vae(), vae, "", Init.seeded(SEED + 1), Precision.FP32);
      SafetensorsWriter w = new SafetensorsWriter();
      for (Parameter p : vae.all().values()) {
        w.add(p.name(), p.value(), Dtype.F32);
      }
      w.write(hf.resolve("ae.safetensors"));
    }

    TrainResult fromHf = TrainJob.run(job(tmp.resolve("b"), List.of("model_path: " + hf),
        List.of("finetune_from_hf: true", "resume_from: " + hf, "resume_model_only: true", "finetune_from_ema: true")));
    TrainResult fromOurs = TrainJob.run(job(tmp.resolve("c"), List.of("preset: tiny"),
        List.of("resume_from: " + ckpt, "resume_model_only: true", "finetune_from_ema: true")));

    assertEquals(0, fromHf.steps().get(0).step());
    assertEquals(fromOurs.steps().get(0).ce(), fromHf.steps().get(0).ce());
    assertEquals(fromOurs.steps().get(0).mse(), fromHf.steps().get(0).mse());
    // and the EMA really was loaded: the same first pack scores differently than at initialisation
    assertNotEquals(a.steps().get(0).ce(), fromHf.steps().get(0).ce());
  }
}
