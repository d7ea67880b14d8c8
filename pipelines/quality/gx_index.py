"""GX's Data Docs index page, built without reading every validation result each time.

GX's ``DefaultSiteIndexBuilder`` lists the validation results on the index page with
their outcome, which it reads by loading (and deserialising) *every* stored result on
every build, so even a run that renders one new page pays for the whole history.
:class:`CachedSiteIndexBuilder` renders the same page from the same information, but
keeps each result's outcome, batch kwargs, batch spec and asset name in a small JSON file
beside the store: a stored result never changes, so it is read once. Results no longer
in the store are dropped from the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResult
from great_expectations.render.renderer.site_builder import (
    FALSEY_YAML_STRINGS,
    DefaultSiteIndexBuilder,
    _resolve_asset_name,
    resource_key_passes_run_name_filter,
)
from great_expectations.util import convert_to_json_serializable


def _key(validation_result_key) -> str:
    return json.dumps(list(validation_result_key.to_tuple()), ensure_ascii=False)


class CachedSiteIndexBuilder(DefaultSiteIndexBuilder):
    # GX passes its runtime arguments only to parameters the constructor names: all of
    # DefaultSiteIndexBuilder's are repeated here.
    def __init__(  # noqa: PLR0913
        self,
        name,
        site_name,
        data_context,
        target_store,
        site_section_builders_config,
        custom_styles_directory=None,
        custom_views_directory=None,
        show_how_to_buttons=True,
        validation_results_limit=None,
        renderer=None,
        view=None,
        data_context_id=None,
        source_stores=None,
        cache_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            name, site_name, data_context, target_store, site_section_builders_config,
            custom_styles_directory=custom_styles_directory, custom_views_directory=custom_views_directory,
            show_how_to_buttons=show_how_to_buttons, validation_results_limit=validation_results_limit,
            renderer=renderer, view=view, data_context_id=data_context_id, source_stores=source_stores, **kwargs,
        )
        self.cache_path = Path(cache_path) if cache_path else None

    def _read_cache(self) -> dict[str, list]:
        if self.cache_path is None:
            return {}
        try:
            data = json.loads(self.cache_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write_cache(self, cache: dict[str, list]) -> None:
        if self.cache_path is None:
            return
        tmp = self.cache_path.with_name(f".{self.cache_path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache, ensure_ascii=False, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.cache_path)

    def _add_validations_to_index_links(self, index_links_dict, validation_and_profiling_result_site_keys) -> None:
        """As GX's, with each result's index information read from the cache file when a
        run has read it before."""
        validations = self.site_section_builders_config.get("validations", "None")
        if not validations or validations in FALSEY_YAML_STRINGS:
            return
        run_name_filter = self.site_section_builders_config["validations"]["run_name_filter"]
        keys = [
            k for k in validation_and_profiling_result_site_keys
            if resource_key_passes_run_name_filter(k, run_name_filter)
        ]
        keys = sorted(keys, key=lambda x: x.run_id.run_time, reverse=True)
        if self.validation_results_limit:
            keys = keys[: self.validation_results_limit]
        cache = self._read_cache()
        kept: dict[str, list] = {}
        for key in keys:
            ck = _key(key)
            info = cache.get(ck)
            if info is None:
                try:
                    validation = self.data_context.get_validation_result(
                        batch_identifier=key.batch_identifier,
                        expectation_suite_name=key.expectation_suite_identifier.name,
                        run_id=key.run_id,
                        validation_results_store_name=self.source_stores.get("validations"),
                    )
                except Exception:  # noqa: BLE001 - as GX: a result that cannot be read is skipped
                    continue
                if not isinstance(validation, ExpectationSuiteValidationResult):
                    continue
                info = [
                    validation.success,
                    convert_to_json_serializable(validation.meta.get("batch_kwargs", {})),
                    convert_to_json_serializable(validation.meta.get("batch_spec", {})),
                    _resolve_asset_name(validation),
                ]
            kept[ck] = info
            success, batch_kwargs, batch_spec, asset_name = info
            self.add_resource_info_to_index_links_dict(
                index_links_dict=index_links_dict,
                expectation_suite_name=key.expectation_suite_identifier.name,
                section_name="validations",
                batch_identifier=key.batch_identifier,
                run_id=key.run_id,
                validation_success=success,
                run_time=key.run_id.run_time,
                run_name=key.run_id.run_name,
                asset_name=asset_name,
                batch_kwargs=batch_kwargs,
                batch_spec=batch_spec,
            )
        if kept != cache:
            self._write_cache(kept)
