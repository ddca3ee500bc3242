<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<!-- LSOAs shaded by the synthetic deprivation decile: 1 = most deprived (dark) … 10 (light). -->
<qgis styleCategories="Symbology" version="3.34">
  <renderer-v2 type="graduatedSymbol" attr="imd_decile" graduatedMethod="GraduatedColor" symbollevels="0" enableorderby="0" forceraster="0">
    <ranges>
      <range symbol="0" lower="0.5" upper="2.5" label="1–2 (most deprived)" render="true"/>
      <range symbol="1" lower="2.5" upper="4.5" label="3–4" render="true"/>
      <range symbol="2" lower="4.5" upper="6.5" label="5–6" render="true"/>
      <range symbol="3" lower="6.5" upper="8.5" label="7–8" render="true"/>
      <range symbol="4" lower="8.5" upper="10.5" label="9–10 (least deprived)" render="true"/>
    </ranges>
    <symbols>
      <symbol type="fill" name="0" alpha="0.8" clip_to_extent="1" force_rhr="0"><layer class="SimpleFill" enabled="1" locked="0" pass="0"><Option type="Map"><Option type="QString" name="color" value="8,48,107,255"/><Option type="QString" name="outline_color" value="255,255,255,160"/><Option type="QString" name="outline_width" value="0.1"/></Option></layer></symbol>
      <symbol type="fill" name="1" alpha="0.8" clip_to_extent="1" force_rhr="0"><layer class="SimpleFill" enabled="1" locked="0" pass="0"><Option type="Map"><Option type="QString" name="color" value="33,113,181,255"/><Option type="QString" name="outline_color" value="255,255,255,160"/><Option type="QString" name="outline_width" value="0.1"/></Option></layer></symbol>
      <symbol type="fill" name="2" alpha="0.8" clip_to_extent="1" force_rhr="0"><layer class="SimpleFill" enabled="1" locked="0" pass="0"><Option type="Map"><Option type="QString" name="color" value="107,174,214,255"/><Option type="QString" name="outline_color" value="255,255,255,160"/><Option type="QString" name="outline_width" value="0.1"/></Option></layer></symbol>
      <symbol type="fill" name="3" alpha="0.8" clip_to_extent="1" force_rhr="0"><layer class="SimpleFill" enabled="1" locked="0" pass="0"><Option type="Map"><Option type="QString" name="color" value="189,215,231,255"/><Option type="QString" name="outline_color" value="255,255,255,160"/><Option type="QString" name="outline_width" value="0.1"/></Option></layer></symbol>
      <symbol type="fill" name="4" alpha="0.8" clip_to_extent="1" force_rhr="0"><layer class="SimpleFill" enabled="1" locked="0" pass="0"><Option type="Map"><Option type="QString" name="color" value="239,243,255,255"/><Option type="QString" name="outline_color" value="255,255,255,160"/><Option type="QString" name="outline_width" value="0.1"/></Option></layer></symbol>
    </symbols>
  </renderer-v2>
</qgis>
