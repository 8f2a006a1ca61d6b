package ai.bakery.data.live;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import ai.bakery.data.DataConfig;
import ai.bakery.data.pack.PackCandidate;
import ai.bakery.data.pack.SampleRef;
import ai.bakery.data.plan.SequencePlanner;
import ai.bakery.data.sample.Sample;
import ai.bakery.data.sample.SampleItem;
import ai.bakery.data.source.SkipCounter;
import ai.bakery.data.testing.PlanFixtures;
import ai.bakery.data.testing.TinyDatasets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.stream.javadsl.Source;
import org.junit.jupiter.api.Test;

/** Positions with samples held back by the packer: a resume re-reads the held ones and skips the packed ones. */
class LiveGroupReaderTest {
  static final DataConfig CONFIG = PlanFixtures.config(0, 0, 0);
  static final SequencePlanner PLANNER = new SequencePlanner(CONFIG, PlanFixtures.TOKENS, TinyDatasets.WORDS,
      PlanFixtures.IDENTITY, PlanFixtures.IDENTITY);

  /** Ten records alternating between keys a and b, offsets 0, 10, 20, ... per key. */
  static final class ListSource implements LiveSource {
    @Override
    public String describe() {
      return "list";
    }

    @Override
    public Source<LiveRecord, ?> open(LivePosition from, SkipCounter skips, ActorSystem system) {
      List<LiveRecord> out = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        String key = i % 2 == 0 ? "a" : "b";
        long offset = (i / 2) * 10L;
        if (offset >= from.offset(key) && !from.doneSet().contains(LivePosition.doneKey(key, offset))) {
          Sample s = new Sample("s" + i, "list", List.of(new SampleItem.Text("q", false, false),
              new SampleItem.Text("answer s" + i, true, false)));
          out.add(new LiveRecord(s, key, offset, offset + 10));
        }
      }
      return Source.from(out);
    }

    @Override
    public void close() {}
  }

  private static List<PackCandidate> drain(LiveGroupReader r) {
    List<PackCandidate> out = new ArrayList<>();
    for (PackCandidate c; (c = r.poll(2_000)) != null; ) {
      out.add(c);
    }
    return out;
  }

  @Test
  void heldSamplesComeBackAndPackedOnesDoNot() {
    LivePosition saved;
    Set<String> packed = new TreeSet<>();
    try (LiveGroupReader r = new LiveGroupReader(3, "g", new ListSource(), LivePosition.START, PLANNER, 1,
        new SkipCounter(), 2)) {
      List<PackCandidate> got = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        got.add(r.poll(5_000));
      }
      assertEquals(3, got.get(0).ref().group());
      // the packer holds s1 (key b, offset 0) and s4 (key a, offset 20); s0, s2, s3, s5 were packed
      List<SampleRef> held = List.of(got.get(1).ref(), got.get(4).ref());
      for (int i : new int[] {0, 2, 3, 5}) {
        packed.add(got.get(i).sample().key());
      }
      saved = r.position(held);
      assertEquals(Map.of("a", 20L, "b", 0L), saved.offsets());
      assertEquals(new TreeSet<>(List.of("b@10", "b@20")), new TreeSet<>(saved.done()));
    }
    try (LiveGroupReader r = new LiveGroupReader(3, "g", new ListSource(), saved, PLANNER, 1, new SkipCounter(),
        2)) {
      Set<String> again = new TreeSet<>();
      for (PackCandidate c : drain(r)) {
        again.add(c.sample().key());
      }
      assertEquals(new TreeSet<>(List.of("s1", "s4", "s6", "s7", "s8", "s9")), again);
      // nothing held now: the next position is past everything, and an earlier done entry is not carried
      LivePosition end = r.position(List.of());
      assertEquals(Map.of("a", 50L, "b", 50L), end.offsets());
      assertEquals(List.of(), end.done());
      assertNull(r.poll());
    }
  }
}
