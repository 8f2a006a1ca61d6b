package ai.bakery.model.io;

/** A checkpoint that does not fit the model: missing, unexpected or mis-shaped tensors, all named. */
public class StateDictException extends RuntimeException {
  private final LoadReport report;

  public StateDictException(String message, LoadReport report) {
    super(message);
    this.report = report;
  }

  /** The full lists behind the message (which shows only the first few names of each). */
  public LoadReport report() {
    return report;
  }
}
