package ai.bakery.runtime.config;

import java.util.List;

/**
 * A parsed job config with how it was written and what was accepted but has no effect here (one line per
 * reason; log these once at start-up).
 */
public record LoadedJob(JobConfig config, Dialect dialect, List<String> notes) {
  public LoadedJob {
    notes = List.copyOf(notes);
  }
}
