"""Warehouse helpers around the dbt project: generated dbt sources, `credit lookup`."""
