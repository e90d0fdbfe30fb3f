"""Policy: the platform's rules as versioned data (YAML)."""

from .model import ActionRule, Category, Policy, PolicyError, load_policy, load_policy_text

__all__ = ["ActionRule", "Category", "Policy", "PolicyError", "load_policy", "load_policy_text"]
