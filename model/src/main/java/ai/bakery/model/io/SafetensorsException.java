package ai.bakery.model.io;

/** A safetensors file or index that is malformed, inconsistent, or does not hold what was asked for. */
public class SafetensorsException extends RuntimeException {
  public SafetensorsException(String message) {
    super(message);
  }

  public SafetensorsException(String message, Throwable cause) {
    super(message, cause);
  }
}
