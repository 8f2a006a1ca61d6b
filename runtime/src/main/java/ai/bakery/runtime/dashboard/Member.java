package ai.bakery.runtime.dashboard;

/**
 * One process of the job.
 *
 * @param name unique name (e.g. the cluster address or "worker-3")
 * @param role "coordinator", "trainer", "data", ... (free text, used as a Prometheus label)
 * @param health "up", "unreachable", "down", ... ("up" counts as healthy)
 * @param device what it computes on, e.g. "cuda:0 (H100)" or "cpu"
 * @param lastSeenMillis wall-clock time of the last report
 */
public record Member(String name, String role, String health, String device, long lastSeenMillis) {
  public Member {
    if (name == null || name.isBlank()) {
      throw new IllegalArgumentException("member name must not be blank");
    }
    role = role == null ? "" : role;
    health = health == null ? "" : health;
    device = device == null ? "" : device;
  }

  public boolean up() {
    return "up".equalsIgnoreCase(health);
  }
}
