"""Evaluation protocols: the replay of a run's users (taste, intent, target) with the metrics
each one is scored by, and the offline protocol of `genrec eval ranker`."""
