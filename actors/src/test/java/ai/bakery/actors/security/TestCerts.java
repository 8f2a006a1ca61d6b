package ai.bakery.actors.security;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** One job CA with nodes n1, n2, data-0, worker-0 and one foreign CA with node mallory, made once per JVM. */
final class TestCerts {
  private static Path root;

  private TestCerts() {}

  static synchronized Path root() {
    if (root == null) {
      try {
        Path dir = Files.createTempDirectory("bakery-certs");
        ClusterCerts job = new ClusterCerts(dir.resolve("job"));
        job.createAuthority();
        for (String n : List.of("n1", "n2", "data-0", "worker-0")) {
          job.issueNode(n, List.of("127.0.0.1", "localhost"));
        }
        ClusterCerts other = new ClusterCerts(dir.resolve("other"));
        other.createAuthority();
        other.issueNode("mallory", List.of("127.0.0.1", "localhost"));
        recordPasswords(dir);
        root = dir;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return root;
  }

  /** Lists every generated keystore password where the CI secret scan reads them (.ci/scan-secrets). */
  private static void recordPasswords(Path dir) throws IOException {
    String ledger = System.getProperty("bakery.test.secrets");
    if (ledger == null) {
      return;
    }
    StringBuilder lines = new StringBuilder();
    try (Stream<Path> files = Files.walk(dir)) {
      for (Path f : (Iterable<Path>) files.filter(p -> p.toString().endsWith(".password"))::iterator) {
        lines.append(Files.readString(f, StandardCharsets.UTF_8).strip()).append('\n');
      }
    }
    Path out = Path.of(ledger);
    Files.createDirectories(out);
    Files.writeString(out.resolve("keystore-passwords-" + ProcessHandle.current().pid() + ".txt"), lines);
  }

  static Path job() {
    return root().resolve("job");
  }

  static Path other() {
    return root().resolve("other");
  }
}
