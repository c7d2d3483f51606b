"""Fast linear algebra on grid operators (multigrid hierarchies, smoothers)."""
