package ai.bakery.runtime.config;

/**
 * Where a run writes: {@code resultsDir} gets the log and metrics, {@code checkpointDir} one folder per saved
 * step. LMMS Engine's single {@code output_dir} sets both ({@code checkpoints/} inside it).
 */
public record OutputSection(String resultsDir, String checkpointDir) {
  public static final OutputSection DEFAULTS = new OutputSection("results", "results/checkpoints");

  public OutputSection {
    resultsDir = Checks.or(Checks.blankToNull(resultsDir), "results");
    checkpointDir = Checks.or(Checks.blankToNull(checkpointDir), resultsDir + "/checkpoints");
  }
}
