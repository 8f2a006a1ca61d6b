package ai.bakery.actors.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.StreamSupport;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.junit.jupiter.api.Test;

class ArteryTlsTest {
  static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  static ActorSystem<Void> node(Path certs, String name, int port, int seed) {
    Config c = ConfigFactory.parseString("pekko.actor.provider = cluster\n"
            + "pekko.remote.artery.canonical.hostname = 127.0.0.1\n"
            + "pekko.remote.artery.canonical.port = " + port + "\n"
            + "pekko.cluster.seed-nodes = [\"pekko://job@127.0.0.1:" + seed + "\"]\n"
            + "pekko.cluster.jmx.multi-mbeans-in-same-jvm = on\n"
            + "pekko.coordinated-shutdown.exit-jvm = off\n")
        .withFallback(ArteryTls.forNode(certs, name))
        .withFallback(ConfigFactory.load());
    return ActorSystem.create(Behaviors.empty(), "job", c);
  }

  static long up(ActorSystem<?> s) {
    return StreamSupport.stream(Cluster.get(s).state().getMembers().spliterator(), false)
        .filter(m -> m.status() == MemberStatus.up()).count();
  }

  @Test
  void onlyNodesWithTheJobsCertificatesJoin() throws Exception {
    Path job = TestCerts.job();
    Path other = TestCerts.other();
    // Password files are private to their owner.
    assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
        Files.getPosixFilePermissions(job.resolve("n1.password"))));

    int seed = freePort();
    ActorSystem<Void> a = node(job, "n1", seed, seed);
    ActorSystem<Void> b = node(job, "n2", 0, seed);
    ActorSystem<Void> stranger = node(other, "mallory", 0, seed);
    try {
      long end = System.currentTimeMillis() + 30_000;
      while (up(a) < 2 && System.currentTimeMillis() < end) {
        Thread.sleep(100);
      }
      assertEquals(2, up(a), "a node with the job's certificate joins");
      Thread.sleep(3000);
      assertEquals(2, Cluster.get(a).state().getMembers().spliterator().getExactSizeIfKnown() < 0
          ? StreamSupport.stream(Cluster.get(a).state().getMembers().spliterator(), false).count()
          : Cluster.get(a).state().getMembers().spliterator().getExactSizeIfKnown(),
          "the stranger is not even a joining member");
      assertFalse(Cluster.get(stranger).selfMember().status() == MemberStatus.up());
      assertTrue(up(stranger) == 0, "the stranger never sees an up cluster");
    } finally {
      stranger.terminate();
      b.terminate();
      a.terminate();
      a.getWhenTerminated().toCompletableFuture().join();
    }
  }
}
