"""Rule changes as releases: the whole operator configuration as versioned data in the store.

- bundle.py: a folder's operator files and their content hash (the release id).
- repository.py: releases, their gates and activations in the store, audited.
- materialize.py: a release written out as a folder on this process's disk.
- follower.py: every worker and API process serves the one active release.
- checking.py: the check a draft must pass before it can be activated.
- lifecycle.py: propose, check, activate (gates and review), roll back.
"""
