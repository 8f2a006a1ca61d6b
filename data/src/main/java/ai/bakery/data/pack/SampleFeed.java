package ai.bakery.data.pack;

/** The planned samples of each dataset group, as a packer draws them. */
public interface SampleFeed {
  /** Number of groups. */
  int groups();

  /** The group's next sample that plans (unreadable or oversized rows are skipped and counted). */
  PackCandidate next(int group);

  /** Reads and plans the sample at {@code ref} again, exactly as it was planned the first time. */
  PackCandidate reread(SampleRef ref);

  /** The group's name, for error messages. */
  String groupName(int group);
}
