package ai.bakery.cli;

import ai.bakery.runtime.train.ProcessExit;
import ai.bakery.runtime.train.StopRequest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * What SIGTERM (a preemption notice) and SIGINT (Ctrl-C) do while a single-process run trains.
 *
 * <p>The JVM's own handlers call {@code System.exit}: with no hooks to wait for, the VM gives threads in native
 * code a few hundred milliseconds and then runs the C library's {@code exit}, whose static destructors tear
 * libtorch down while the main thread is still inside a backward pass (the SIGSEGV in
 * {@code at::accelerator::getAccelerator} of the hs_err files). So while training these handlers replace them:
 * the first signal asks the trainer to stop at the next step boundary ({@link StopRequest}); it finishes the
 * step in flight, checkpoints the last finished step and returns, everything native is closed in order, and
 * the command exits with {@code 128 + signal} (143 for SIGTERM, 130 for SIGINT), the status of a process
 * stopped by that signal: supervisors read it as "not finished" and restart it (Kubeflow's ExitCode restart
 * policy retries 128-255), and {@code --auto_resume true} continues from the checkpoint.
 *
 * <p>A second signal, or no clean stop within the grace period ({@value #TIMEOUT_ENV}, default 25 s: under the
 * 30 s notice of GCE preemption and Kubernetes' default terminationGracePeriodSeconds, so the process ends
 * itself before the SIGKILL), ends the process at once with the same status through the C library's
 * {@code _exit}, which runs no destructors under the running step. Checkpoints are written to a temporary
 * folder and renamed into place, so the last complete one stays valid.
 */
final class Preemption implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Preemption.class);
  /** Seconds between the first signal and a forced exit; 0 exits at once. */
  static final String TIMEOUT_ENV = "BAKERY_PREEMPT_TIMEOUT";
  static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(25);
  private static final String[] SIGNALS = {"TERM", "INT"};

  private final StopRequest stop = new StopRequest();
  private final Duration timeout;
  /** What the first signal leads to, and what is left when the process is ended at once. */
  private final String onStop;
  private final String onForce;
  private final Map<Signal, SignalHandler> previous = new LinkedHashMap<>();
  private int signals;
  private int status;
  private boolean closed;
  private Thread watchdog;

  private Preemption(Duration timeout, String onStop, String onForce) {
    this.timeout = timeout;
    this.onStop = onStop;
    this.onForce = onForce;
  }

  /**
   * Handles SIGTERM and SIGINT for a training run until {@link #close()}, which restores the JVM's handlers.
   *
   * @param checkpointDir named in the log lines
   */
  static Preemption install(Duration timeout, Path checkpointDir) {
    return install(timeout, "saving a checkpoint in " + checkpointDir, "no new checkpoint; the last "
        + "complete checkpoint in " + checkpointDir + " stays valid (a save cut short leaves only a .tmp- folder, which resuming ignores)");
  }

  /**
   * Handles SIGTERM and SIGINT for work with nothing to save at a step boundary (generation, chat): the first
   * signal ends the process at once, as safely as a forced exit of a training run.
   *
   * @param left what a stopped command leaves behind, for the log line
   */
  static Preemption exitAtOnce(String left) {
    return install(Duration.ZERO, "", left);
  }

  /**
   * @param onStop what the run does before exiting, for the log line of the first signal ("saving ...")
   * @param onForce what stays valid when the process is ended at once, for its log line
   */
  static Preemption install(Duration timeout, String onStop, String onForce) {
    Preemption p = new Preemption(timeout, onStop, onForce);
    for (String name : SIGNALS) {
      try {
        Signal signal = new Signal(name);
        p.previous.put(signal, Signal.handle(signal, p::onSignal));
      } catch (IllegalArgumentException e) {
        // -Xrs, or the signal is the VM's: the JVM's default stays, a signal then ends training abruptly
        LOG.warn("cannot handle SIG{} ({}): a SIG{} will stop training without a checkpoint", name, e.getMessage(),
            name);
      }
    }
    return p;
  }

  /** The grace period from {@value #TIMEOUT_ENV} (seconds), or {@link #DEFAULT_TIMEOUT}. */
  static Duration timeout(Map<String, String> env) {
    String v = env.get(TIMEOUT_ENV);
    if (v == null || v.isBlank()) {
      return DEFAULT_TIMEOUT;
    }
    double seconds;
    try {
      seconds = Double.parseDouble(v.trim());
    } catch (NumberFormatException e) {
      seconds = -1;
    }
    if (!(seconds >= 0) || seconds > 86_400) {
      throw new UsageException(TIMEOUT_ENV + "=" + v + ": expected seconds between 0 and 86400");
    }
    return Duration.ofMillis(Math.round(seconds * 1000));
  }

  /** What the trainer watches. */
  StopRequest stop() {
    return stop;
  }

  /** The exit status for a run this stopped: 128 + the first signal's number. */
  synchronized int status() {
    return status;
  }

  private void onSignal(Signal s) {
    String name = "SIG" + s.getName();
    synchronized (this) {
      if (closed) {
        return; // training is over: the run's own end decides the exit
      }
      signals++;
      if (signals == 1) {
        status = 128 + s.getNumber();
        stop.request(name);
        if (timeout.isZero()) {
          forceExit(onStop.isEmpty() ? name : name + " with " + TIMEOUT_ENV + "=0");
          return;
        }
        LOG.warn("{}: stopping after the step in flight, then {} and exiting with status {} "
            + "(a second signal, or {} s without a clean stop, exits at once)", name, onStop, status, seconds());
        watchdog = new Thread(this::watch, "bakery-preempt-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
        return;
      }
    }
    forceExit("a second " + name);
  }

  private void watch() {
    try {
      Thread.sleep(timeout.toMillis());
    } catch (InterruptedException e) {
      return; // closed: training stopped in time
    }
    synchronized (this) {
      if (closed) {
        return;
      }
    }
    forceExit("no clean stop within " + seconds() + " s (" + TIMEOUT_ENV + ")");
  }

  private String seconds() {
    return java.math.BigDecimal.valueOf(timeout.toMillis(), 3).stripTrailingZeros().toPlainString();
  }

  /** Ends the process now, through {@link ProcessExit} (no destructors under a step still in libtorch). */
  private void forceExit(String why) {
    int code;
    synchronized (this) {
      code = status;
    }
    LOG.error("{}: exiting now with status {}; {}", why, code, onForce);
    ProcessExit.now(code);
  }

  @Override
  public void close() {
    synchronized (this) {
      closed = true;
      if (watchdog != null) {
        watchdog.interrupt();
      }
    }
    previous.forEach((signal, handler) -> {
      try {
        Signal.handle(signal, handler);
      } catch (IllegalArgumentException e) {
        LOG.debug("restoring the handler of {}: {}", signal, e.getMessage());
      }
    });
  }
}
