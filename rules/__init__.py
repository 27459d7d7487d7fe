"""careflow's rule language: YAML rule files, the fact schema, the compiler and engine."""
