package ai.bakery.runtime.dashboard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * End to end: Debian's headless chromium loads the dashboard while a run reports steps; the page must show no
 * console errors, its loss plot must gain the pushed points live (over SSE), and the member table must list the
 * workers. A screenshot is kept under the module's build folder ({@code dashboard.png}).
 */
class DashboardBrowserTest {

  @Test
  void theLivePageFollowsTheRun() throws Exception {
    Assumptions.assumeTrue(HeadlessChromium.available(), "no /usr/bin/chromium (CI installs Debian's chromium)");
    RunMonitor run = new RunMonitor("browser-test");
    run.setTotalSteps(40);
    run.putMember(new Member("coordinator", "coordinator", "up", "cpu", 0));
    run.putMember(new Member("worker-0", "trainer", "up", "cpu", 0));
    run.putMember(new Member("worker-1", "trainer", "up", "cpu", 0));
    run.setDataHealth(new DataHealth(Map.of("packed", 3), Map.of("corrupt_image", 2L), 0));
    for (int i = 0; i < 5; i++) {
      run.onStep(fakeStep(i));
    }
    try (DashboardServer server = DashboardServer.start(run, DashboardConfig.localhost(0));
        HeadlessChromium chrome = new HeadlessChromium(1280, 1100)) {
      chrome.open(server.uri());
      awaitPage(chrome, "document.body.dataset.connected === 'true' && document.querySelector('#plot-loss').dataset.points === '5'");
      assertEquals(5, polylinePoints(chrome));

      // Steps pushed after the page loaded arrive over the event stream and extend the plot.
      for (int i = 5; i < 25; i++) {
        run.onStep(fakeStep(i));
        if (i % 5 == 0) {
          run.onLog("INFO", "Trainer", "step " + i);
          Thread.sleep(50);
        }
      }
      run.onCheckpoint(20, Path.of("/runs/demo/checkpoints/0000020"));
      run.putMember(new Member("worker-1", "trainer", "unreachable", "cpu", 0));
      awaitPage(chrome, "document.querySelector('#plot-loss').dataset.points === '25'");
      assertEquals(25, polylinePoints(chrome));
      assertEquals("24", chrome.eval("document.getElementById('step').textContent").asText());
      assertEquals(List.of("coordinator", "worker-0", "worker-1"), List.of(chrome.eval(
          "[...document.querySelectorAll('#members tr.member')].map(r => r.dataset.name).join(',')").asText().split(",")));
      awaitPage(chrome, "document.querySelector('#members tr[data-name=\"worker-1\"]').textContent.includes('unreachable')");
      awaitPage(chrome, "document.getElementById('checkpoints').textContent.includes('0000020')");
      awaitPage(chrome, "document.getElementById('logs').textContent.includes('step 20')");

      Path png = buildDir().resolve("dashboard.png");
      byte[] image = chrome.screenshot();
      Files.write(png, image);
      assertTrue(image.length > 1000 && image[1] == 'P' && image[2] == 'N' && image[3] == 'G', "a PNG screenshot");
      assertEquals(List.of(), chrome.errors(), "console errors on the dashboard page");
    }
  }

  /** A plausible falling loss curve. */
  private static StepRecord fakeStep(int i) {
    return new StepRecord(i, 4.0 * Math.exp(-i / 10.0) + 0.5, 0.8 * Math.exp(-i / 15.0) + 0.1, 1e-4 * Math.min(1, (i + 1) / 5.0),
        1.0 + 0.3 * Math.sin(i), 1200 + 40 * i, 0.2, 512, false, System.currentTimeMillis());
  }

  private static int polylinePoints(HeadlessChromium chrome) throws Exception {
    return chrome.eval("document.querySelector('#plot-loss polyline').getAttribute('points').trim().split(/\\s+/).length")
        .asInt();
  }

  private static void awaitPage(HeadlessChromium chrome, String condition) throws Exception {
    long deadline = System.nanoTime() + 20_000_000_000L;
    // An element the condition reads may not exist yet while the page builds itself: that is "not yet".
    String probe = "(() => { try { return !!(" + condition + "); } catch (e) { return false; } })()";
    while (!chrome.eval(probe).asBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("page never satisfied: " + condition + "; errors: " + chrome.errors()
            + "; body: " + chrome.eval("document.body.innerText").asText());
      }
      Thread.sleep(100);
    }
  }

  private static Path buildDir() throws Exception {
    // test-classes sits in the module's build folder (target/ or -Dbakery.build.dir)
    return Path.of(DashboardBrowserTest.class.getProtectionDomain().getCodeSource().getLocation().toURI()).getParent();
  }
}
