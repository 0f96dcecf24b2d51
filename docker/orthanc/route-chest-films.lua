-- Route every CR/DX instance Orthanc stores to the VentFusion listener.
-- VentFusion applies its own chest-film selection (body part, view, image type) and records
-- what it does not score, so routing stays deliberately broad here.
-- Lua SendToModality does not retry: for outages, resubmit failed jobs (docs/deployment.md).
function OnStoredInstance(instanceId, tags, metadata, origin)
  if origin['RequestOrigin'] ~= 'Lua' then
    local modality = tags['Modality']
    if modality == 'CR' or modality == 'DX' then
      SendToModality(instanceId, 'ventfusion')
    end
  end
end
