package ai.bakery.runtime.config;

import ai.bakery.model.config.ConfigException;
import java.util.List;

/**
 * Watching a run: the live web dashboard of the single-process trainer and the samples it draws from the EMA
 * weights as it trains.
 *
 * @param enabled serve the dashboard while training (also {@code bakery train <config> --dashboard})
 * @param host address to bind; loopback by default (any other address needs a token)
 * @param port TCP port; 0 picks a free one
 * @param tokenFile file holding the bearer token required off loopback
 * @param sampleEvery every N steps (and after the last) generate {@code sample_prompts} and answer
 *     {@code sample_question} with the EMA weights into {@code <results_dir>/samples/step-N/}; 0 turns sampling off
 * @param samplePrompts text-to-image prompts drawn at every sampling step
 * @param sampleQuestion the question asked about {@code sample_image} (or about the first generated image)
 * @param sampleImage picture the question is about; empty for the first generated sample
 * @param sampleSteps Euler steps per sampled image
 */
public record DashboardSection(boolean enabled, String host, int port, String tokenFile, int sampleEvery,
    List<String> samplePrompts, String sampleQuestion, String sampleImage, int sampleSteps) {
  public static final DashboardSection DEFAULTS = new DashboardSection(false, "127.0.0.1", 8265, null, 0,
      List.of("a red circle on a blue background", "a yellow square on a green background",
          "a white triangle on a black background"),
      "What colour is the shape?", null, 16);

  public DashboardSection {
    host = Checks.or(Checks.blankToNull(host), "127.0.0.1");
    tokenFile = Checks.blankToNull(tokenFile);
    sampleImage = Checks.blankToNull(sampleImage);
    if (port < 0 || port > 65535) {
      throw new ConfigException("dashboard.port: " + port + " is not a TCP port (0..65535)");
    }
    Checks.nonNegative("dashboard.sample_every", sampleEvery);
    samplePrompts = samplePrompts == null ? List.of() : List.copyOf(samplePrompts);
    sampleQuestion = Checks.blankToNull(sampleQuestion);
    if (sampleSteps < 2) {
      throw new ConfigException("dashboard.sample_steps: " + sampleSteps + " (need at least 2 Euler steps)");
    }
  }

  public DashboardSection withEnabled(boolean on) {
    return new DashboardSection(on, host, port, tokenFile, sampleEvery, samplePrompts, sampleQuestion, sampleImage,
        sampleSteps);
  }
}
