package ai.bakery.runtime.dashboard;

/** One log message: level name ("INFO", "WARN", ...), logger name, and the formatted text. */
public record LogLine(long timeMillis, String level, String logger, String message) {}
