"""Jobs from submit to result: models, submit and enqueue, the run of each kind."""
