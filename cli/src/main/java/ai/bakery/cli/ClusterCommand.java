package ai.bakery.cli;

import ai.bakery.actors.security.ClusterCerts;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** {@code bakery cluster ...}: what a multi-node job needs besides its training config. */
final class ClusterCommand extends CommandGroup {
  ClusterCommand() {
    super("cluster", "set up a multi-node job (see deploy/README.md)");
    add(new LeafCommand("certs",
        "create the job's CA and a key store per node (Artery mutual TLS, Flight TLS)",
        Args.Spec.of("dir")
            .option("node=", "node name to issue a key store for (repeatable as a comma list: n1,n2)")
            .option("host=", "host names or IPs the nodes answer on, comma list (default 127.0.0.1,localhost)")
            .details("Writes ca.p12 (keep it off the nodes), truststore.p12 and <node>.p12 with random passwords in\n"
                + "owner-only *.password files. Running it again keeps the CA and adds nodes."),
        ClusterCommand::certs));
  }

  private static int certs(Args args, Cli cli) throws Exception {
    Path dir = Path.of(args.positional(0));
    List<String> nodes = split(args.option("node").orElse(""));
    List<String> hosts = split(args.option("host").orElse("127.0.0.1,localhost"));
    ClusterCerts certs = new ClusterCerts(dir);
    certs.createAuthority();
    List<String> issued = new ArrayList<>();
    for (String node : nodes) {
      try {
        certs.issueNode(node, hosts);
      } catch (IllegalArgumentException e) {
        throw new UsageException(args.path() + ": " + e.getMessage());
      }
      issued.add(node + ".p12");
    }
    cli.out().println("job CA in " + dir.toAbsolutePath() + (issued.isEmpty() ? "" : "; issued " + String.join(", ", issued)));
    return 0;
  }

  private static List<String> split(String s) {
    List<String> out = new ArrayList<>();
    for (String p : s.split(",")) {
      if (!p.isBlank()) {
        out.add(p.trim());
      }
    }
    return out;
  }
}
