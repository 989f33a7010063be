"""octowiz: move a self-hosted Octopus Deploy Server to Octopus Cloud, safely and resumably."""

__version__ = "0.1.0"
