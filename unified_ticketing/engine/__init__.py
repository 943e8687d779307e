"""The mapping engine: loads `mappings/<helpdesk>/` and turns unified requests into upstream calls.

Nothing here names a helpdesk, a method or a field of one: those live in the mapping files.
"""
