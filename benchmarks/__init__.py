"""`make bench`: each module measures a figure beside its ceiling in one run."""
