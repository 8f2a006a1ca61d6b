package ai.bakery.cli;

/** The command line itself is wrong; {@link Main} prints the message as one line and exits with 2. */
public class UsageException extends RuntimeException {
  public UsageException(String message) {
    super(message);
  }
}
