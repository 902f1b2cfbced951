"""The rules' config pipeline: YAML ``source`` (positions for ``file:line:col`` errors) ->
``schema`` (validation) -> ``compile`` -> the immutable ``model.RuleSet``; ``loader`` runs it.
"""
