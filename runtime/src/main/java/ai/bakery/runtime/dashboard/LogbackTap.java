package ai.bakery.runtime.dashboard;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import org.slf4j.LoggerFactory;

/**
 * A Logback appender on the root logger that copies log lines at or above a level into a {@link RunListener}
 * (the dashboard's log panel). Attach it only where Logback is the SLF4J backend, as it is in the CLI.
 */
public final class LogbackTap extends AppenderBase<ILoggingEvent> implements AutoCloseable {
  private final RunListener listener;
  private final Level threshold;

  private LogbackTap(RunListener listener, Level threshold) {
    this.listener = listener;
    this.threshold = threshold;
  }

  /**
   * Adds a tap on the root logger; close it to remove it. Returns null when SLF4J is not bound to Logback (then
   * nothing is tapped).
   *
   * @param threshold lowest level copied, e.g. "INFO"
   */
  public static LogbackTap attach(RunListener listener, String threshold) {
    if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext context)) {
      return null;
    }
    LogbackTap tap = new LogbackTap(listener, Level.toLevel(threshold, Level.INFO));
    tap.setContext(context);
    tap.setName("bakery-dashboard");
    tap.start();
    context.getLogger(Logger.ROOT_LOGGER_NAME).addAppender(tap);
    return tap;
  }

  @Override
  protected void append(ILoggingEvent e) {
    if (e.getLevel().isGreaterOrEqual(threshold)) {
      String logger = e.getLoggerName();
      int dot = logger.lastIndexOf('.');
      listener.onLog(e.getLevel().toString(), dot < 0 ? logger : logger.substring(dot + 1), e.getFormattedMessage());
    }
  }

  @Override
  public void close() {
    ((LoggerContext) getContext()).getLogger(Logger.ROOT_LOGGER_NAME).detachAppender(this);
    stop();
  }
}
