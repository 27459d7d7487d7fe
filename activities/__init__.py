"""careflow's activities: one class per area holding its dependencies."""
