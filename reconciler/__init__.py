"""reconciler: GitOps for telephony.

Describe Aculab Cloud numbers, inbound and outbound services and aql SMS relay routes in
YAML; ``reconciler plan`` shows what would change, ``reconciler apply`` makes it so.
"""

__version__ = "0.1.0"
