package ai.bakery.model.config;

/** A configuration that cannot be used as given; the message names the file and field at fault. */
public class ConfigException extends RuntimeException {
  public ConfigException(String message) {
    super(message);
  }

  public ConfigException(String message, Throwable cause) {
    super(message, cause);
  }
}
