"""The 信息采集目录 as data: loading, checking, and what is generated from it."""

from .model import Catalogue, CatalogueError, Category, Department, Field, load_catalogue

__all__ = ["Catalogue", "CatalogueError", "Category", "Department", "Field", "load_catalogue"]
