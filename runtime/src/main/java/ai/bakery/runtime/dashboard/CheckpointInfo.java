package ai.bakery.runtime.dashboard;

/** A checkpoint the run saved: the step it holds, where it is, and when it was written. */
public record CheckpointInfo(long step, String path, long timeMillis) {}
