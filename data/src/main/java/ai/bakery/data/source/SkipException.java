package ai.bakery.data.source;

/** Thrown by a row mapper when a row cannot become a sample; the cursor counts it and moves on. */
public final class SkipException extends Exception {
  private final SkipReason reason;

  public SkipException(SkipReason reason, String detail) {
    super(detail, null, false, false);
    this.reason = reason;
  }

  public SkipReason reason() {
    return reason;
  }
}
