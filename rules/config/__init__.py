"""The rules' config pipeline: YAML source -> schema -> compiled RuleSet."""
