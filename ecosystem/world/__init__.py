"""The simulated world: ground truth, web, agents, crawling, levers, readers, economy, the month."""
