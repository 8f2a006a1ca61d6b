package ai.bakery.runtime.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.tensor.Torch;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/** A step folder that is not wholly committed and intact is never loaded; the previous complete one is. */
class ShardedTornWriteTest {
  @TempDir
  Path tmp;

  private NDManager m;
  private NDArray w;
  private Path root;
  private ListAppender<ILoggingEvent> log;

  @BeforeAll
  static void start() {
    Torch.init();
  }

  @BeforeEach
  void setUp() {
    m = NDManager.newBaseManager();
    w = m.arange(0f, 1000f);
    root = tmp.resolve("ckpt");
    save(1, 2);
    w.addi(1f);
    save(2, 2);
    log = new ListAppender<>();
    log.start();
    ((Logger) LoggerFactory.getLogger(CheckpointManager.class)).addAppender(log);
  }

  @AfterEach
  void tearDown() {
    ((Logger) LoggerFactory.getLogger(CheckpointManager.class)).detachAppender(log);
    m.close();
  }

  private void save(long step, int world) {
    List<ShardedSaver> savers = new java.util.ArrayList<>();
    List<ShardedSaver.Ticket> tickets = new java.util.ArrayList<>();
    for (int r = 0; r < world; r++) {
      ShardedSaver s = new ShardedSaver(ShardedSaver.Config.of(root, r, world));
      savers.add(s);
      tickets.add(s.snapshot(ShardedSaver.Request.of(step, ShardedTensor.allOfFull(Map.of("w", w), r, world), null,
          null, Map.of(), r == 0 ? Map.of("train_state.json", "{\"step\": " + step + "}") : null)));
    }
    tickets.forEach(t -> t.done().join());
    savers.forEach(ShardedSaver::close);
  }

  private Path step(long s) {
    return root.resolve(CheckpointManager.stepName(s));
  }

  private Path part(long s, int rank) {
    return step(s).resolve(ShardFiles.partName(rank, 2));
  }

  /** The newest loadable step is 1, and the log names step 2's folder and {@code why}. */
  private void assertFallsBackToStepOne(String why) {
    assertEquals(step(1), CheckpointManager.latestComplete(root).orElseThrow());
    String warned = log.list.stream().map(ILoggingEvent::getFormattedMessage)
        .filter(msg -> msg.contains(step(2).toString())).findFirst().orElse("(no log line)");
    assertTrue(warned.contains(why), warned);
    assertThrows(CheckpointException.class, () -> {
      try (ShardedReader r = ShardedReader.open(step(2), true)) {
        r.step();
      }
    });
    try (ShardedReader r = ShardedReader.open(step(1), true)) {
      assertEquals(0f, r.readFull(ShardedSaver.MODEL, "w", m).getFloat(0));
    }
  }

  @Test
  void bothStepsLoadWhenIntact() {
    assertEquals(step(2), CheckpointManager.latestComplete(root).orElseThrow());
  }

  @Test
  void truncatedPartFileIsSkipped() throws IOException {
    try (FileChannel c = FileChannel.open(part(2, 1), StandardOpenOption.WRITE)) {
      c.truncate(c.size() - 100);
    }
    assertFallsBackToStepOne("truncated");
  }

  @Test
  void missingCompleteIsSkipped() throws IOException {
    Files.delete(step(2).resolve(CompleteMarker.FILE));
    assertFallsBackToStepOne("no COMPLETE marker");
  }

  @Test
  void corruptedByteFailsTheChecksum() throws IOException {
    try (RandomAccessFile f = new RandomAccessFile(part(2, 0).toFile(), "rw")) {
      long pos = f.length() - 7;
      f.seek(pos);
      int b = f.read();
      f.seek(pos);
      f.write(b ^ 0x10);
    }
    assertFallsBackToStepOne("does not match its CRC32C checksum");
  }

  @Test
  void editedManifestIsCaughtByTheMarker() throws IOException {
    Path mf = step(2).resolve(ShardFiles.manifestName(1, 2));
    Files.writeString(mf, Files.readString(mf).replace("\"step\" : 2", "\"step\" : 2 "));
    assertFallsBackToStepOne("rank-00001-of-00002.json has");
  }

  @Test
  void crashBetweenPartsAndCompleteLeavesNothingLoadable() throws Exception {
    // step 3: rank 0 writes its part and waits to commit; rank 1 dies before writing anything
    w.addi(1f);
    try (ShardedSaver r0 = new ShardedSaver(new ShardedSaver.Config(root, 0, 2, 1, 1, Duration.ofMillis(300)))) {
      ShardedSaver.Ticket t = r0.snapshot(ShardedSaver.Request.of(3, ShardedTensor.allOfFull(Map.of("w", w), 0, 2),
          null, null, Map.of(), Map.of("train_state.json", "{}")));
      ExecutionException e = assertThrows(ExecutionException.class, () -> t.done().get());
      assertTrue(e.getCause().getMessage().contains("rank 1 did not write its part"), e.getCause().getMessage());
    }
    assertTrue(Files.isRegularFile(part(3, 0)));
    assertFalse(Files.exists(step(3).resolve(CompleteMarker.FILE)));
    // a rank that died mid-write leaves only a temporary, which nothing reads
    Files.write(step(3).resolve(ShardFiles.partName(1, 2) + ".tmp"), new byte[] {1, 2, 3});
    assertEquals(step(2), CheckpointManager.latestComplete(root).orElseThrow());
    CheckpointException e = assertThrows(CheckpointException.class, () -> ShardedReader.open(step(3)));
    assertTrue(e.getMessage().contains("no COMPLETE marker"), e.getMessage());
    // the single-process resume path refuses it too
    assertTrue(CheckpointManager.problem(step(3)).orElseThrow().contains("COMPLETE"));
  }

  @Test
  void retentionNeverRemovesTheOnlyCommittedCheckpoint() throws IOException {
    Files.delete(step(2).resolve(CompleteMarker.FILE)); // step 2 never committed
    CheckpointRetention.apply(root, 1);
    assertTrue(Files.exists(step(1).resolve(CompleteMarker.FILE)), "the only committed step stays");
    assertTrue(Files.isDirectory(step(2)), "an uncommitted step newer than every committed one may be in progress");
    save(3, 2);
    CheckpointRetention.apply(root, 1);
    assertEquals(List.of(step(3)), CheckpointManager.stepDirs(root));
  }

  @Test
  void aStalePartOfAnEarlierAttemptIsNeverCommittedWithANewOne() throws Exception {
    w.addi(10f); // the group rolled back and trains step 2 again, to different values
    try (ShardedSaver r0 = new ShardedSaver(new ShardedSaver.Config(root, 0, 2, 1, 0, Duration.ofMillis(300)))) {
      ShardedSaver.Ticket t = r0.snapshot(ShardedSaver.Request.of(2, ShardedTensor.allOfFull(Map.of("w", w), 0, 2),
          null, null, Map.of(), Map.of("train_state.json", "{}")).withSaveId("gen-2"));
      ExecutionException e = assertThrows(ExecutionException.class, () -> t.done().get());
      assertTrue(e.getCause().getMessage().contains("rank 1 did not write its part"), e.getCause().getMessage());
    }
    assertEquals(step(1), CheckpointManager.latestComplete(root).orElseThrow(), "rank 1's old part did not count");
    try (ShardedSaver r1 = new ShardedSaver(ShardedSaver.Config.of(root, 1, 2))) {
      r1.snapshot(ShardedSaver.Request.of(2, ShardedTensor.allOfFull(Map.of("w", w), 1, 2), null, null, Map.of(),
          null).withSaveId("gen-2")).done().get();
    }
    assertThrows(CheckpointException.class, () -> ShardedCheckpoint.commit(step(2), 2, 2, "gen-1", Map.of()));
    ShardedCheckpoint.commit(step(2), 2, 2, "gen-2", Map.of());
    assertEquals(step(2), CheckpointManager.latestComplete(root).orElseThrow());
    try (ShardedReader r = ShardedReader.open(step(2))) {
      assertEquals(11f, r.readFull(ShardedSaver.MODEL, "w", m).getFloat(0)); // 0 + 1 (setUp) + 10
    }
  }

  @Test
  void savingAStepAgainUncommitsItFirst() throws Exception {
    // a rollback re-saves step 2 with one rank only: the old COMPLETE must not vouch for the new half
    try (ShardedSaver r1 = new ShardedSaver(ShardedSaver.Config.of(root, 1, 2))) {
      r1.snapshot(ShardedSaver.Request.of(2, ShardedTensor.allOfFull(Map.of("w", w), 1, 2), null, null, Map.of(),
          null)).done().get();
    }
    assertEquals(step(1), CheckpointManager.latestComplete(root).orElseThrow());
  }
}
