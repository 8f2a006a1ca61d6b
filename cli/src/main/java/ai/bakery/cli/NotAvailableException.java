package ai.bakery.cli;

/** A command whose implementation has not landed in this build; exits with 2 and says so. */
public final class NotAvailableException extends UsageException {
  public NotAvailableException(String command, String what) {
    super(command + " is not available yet (" + what + " is not part of this build)");
  }
}
