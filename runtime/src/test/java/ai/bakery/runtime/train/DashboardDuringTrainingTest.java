package ai.bakery.runtime.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.example.ShapePainter;
import ai.bakery.data.example.ShapeScene;
import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.checkpoint.CheckpointConfig;
import ai.bakery.runtime.config.TrainingSection;
import ai.bakery.runtime.dashboard.DashboardConfig;
import ai.bakery.runtime.dashboard.DashboardServer;
import ai.bakery.runtime.dashboard.HeadlessChromium;
import ai.bakery.runtime.dashboard.LogbackTap;
import ai.bakery.runtime.dashboard.RunMonitor;
import ai.bakery.runtime.dashboard.SampleSet;
import ai.bakery.runtime.dashboard.TrainerReport;
import ai.bakery.runtime.optim.OptimizerConfig;
import ai.bakery.runtime.optim.ScheduleConfig;
import ai.djl.ndarray.NDManager;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dashboard during a real training run: the {@link Trainer} (a small trainable stand-in model, AdamW, EMA,
 * checkpoints) reports through {@link TrainerReport} while headless chromium watches. The loss plot must gain
 * points while steps pass, the member list must show the trainer, checkpoints and log lines must appear, the
 * samples panel must show pushed samples, and the page must log no console errors. Screenshot:
 * {@code dashboard-training.png} in the module's build folder.
 */
class DashboardDuringTrainingTest {
  @TempDir
  Path tmp;

  @Test
  void thePageFollowsARealTrainingRun() throws Exception {
    Assumptions.assumeTrue(HeadlessChromium.available(), "no /usr/bin/chromium (CI installs Debian's chromium)");
    Torch.init();
    int steps = 30;
    OptimizerConfig opt = new OptimizerConfig(3e-2, 0.9, 0.95, 1e-15, 0.01, 1.0);
    ScheduleConfig sched = new ScheduleConfig("cosine", 3, 1e-4, steps);
    CheckpointConfig ck = new CheckpointConfig(tmp.resolve("ckpt"), 10, false, null, false, false, false, 0);
    TrainLoopConfig loop = new TrainLoopConfig(0, 1, 5, 1.0, 1.0, false, 11, true, true, false, false, true, false,
        tmp.resolve("run"), 0);
    TrainingSection training = new TrainingSection(opt, sched, new EmaConfig(0.9), ck, loop);
    RunMonitor monitor = new RunMonitor("training-browser-test");
    // paced so the page sees the run in progress, not only its end
    TrainHook pace = new TrainHook() {
      @Override
      public void onStep(StepResult r, double seconds, double mfu, long dataSkips, Ema ema) {
        sleep(150);
      }
    };
    try (DashboardServer server = DashboardServer.start(monitor, DashboardConfig.localhost(0));
        LogbackTap tap = LogbackTap.attach(monitor, "INFO");
        HeadlessChromium chrome = new HeadlessChromium(1280, 1300);
        NDManager root = NDManager.newBaseManager()) {
      chrome.open(server.uri());
      await(chrome, "document.body.dataset.connected === 'true'");
      CompletableFuture<TrainResult> run = CompletableFuture.supplyAsync(() -> {
        try (StandIn.Model model = new StandIn.Model(root, 3);
            Trainer trainer = Trainer.builder().setTraining(training).setModel(model).setData(StandIn.Source.factory(21))
                .optPeakTflops(1.0).optProgressBar(false)
                .optHook(TrainHook.all(List.of(new TrainerReport(monitor, "trainer"), pace))).build()) {
          return trainer.run();
        }
      });
      await(chrome, "Number(document.querySelector('#plot-loss').dataset.points) >= 3");
      int early = points(chrome);
      await(chrome, "Number(document.querySelector('#plot-loss').dataset.points) >= " + (early + 5));
      assertTrue(!run.isDone(), "the plot grew while training was still running");
      TrainResult result = run.get(120, TimeUnit.SECONDS);
      assertEquals(steps, result.steps().size());
      await(chrome, "document.querySelector('#plot-loss').dataset.points === '" + steps + "'");
      await(chrome, "document.getElementById('state').textContent === 'finished'");
      await(chrome, "[...document.querySelectorAll('#members tr.member')].some(r => r.dataset.name === 'trainer')");
      await(chrome, "document.getElementById('checkpoints').textContent.includes('0000010')");
      await(chrome, "document.getElementById('logs').textContent.includes('Train Loss')");

      ByteArrayOutputStream png = new ByteArrayOutputStream();
      ImageIO.write(ShapePainter.paint(new ShapeScene(ShapeScene.Shape.CIRCLE, ShapeScene.Palette.RED,
          ShapeScene.Palette.BLUE, 0.6), 64), "png", png);
      monitor.onSamples(new SampleSet(29, List.of(new SampleSet.Image("a red circle on a blue background",
          Base64.getEncoder().encodeToString(png.toByteArray()), "sample-0.png")), "What colour is the shape?",
          "The shape is red.", tmp.resolve("run/samples/step-29").toString()));
      await(chrome, "document.getElementById('samples').dataset.step === '29'"
          + " && document.querySelectorAll('#samples img').length === 1"
          + " && document.querySelector('#samples img').naturalWidth === 64");

      byte[] shot = chrome.screenshot();
      Files.write(buildDir().resolve("dashboard-training.png"), shot);
      assertEquals(List.of(), chrome.errors(), "console errors on the dashboard page");
    }
  }

  private static int points(HeadlessChromium chrome) throws Exception {
    return Integer.parseInt(chrome.eval("document.querySelector('#plot-loss').dataset.points").asText());
  }

  private static void await(HeadlessChromium chrome, String condition) throws Exception {
    long deadline = System.nanoTime() + 60_000_000_000L;
    String probe = "(() => { try { return !!(" + condition + "); } catch (e) { return false; } })()";
    while (!chrome.eval(probe).asBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("page never satisfied: " + condition + "; errors: " + chrome.errors()
            + "; body: " + chrome.eval("document.body.innerText").asText());
      }
      Thread.sleep(100);
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static Path buildDir() throws Exception {
    return Path.of(DashboardDuringTrainingTest.class.getProtectionDomain().getCodeSource().getLocation().toURI())
        .getParent();
  }
}
