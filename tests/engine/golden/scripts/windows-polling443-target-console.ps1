# octowiz: clone the Tentacle on app-dev-01 for Octopus Cloud
#
# What it does: creates a SECOND Tentacle instance on this machine for each registration below,
# gives it its own certificate and connects it to the Octopus Cloud instance
# https://octowiz-demo.octopus.app (space 'Default'):
#   OctopusCloud-polling-target: deployment target 'polling-target', polling polling.octowiz-demo.octopus.app on port 443
# The original instance 'Tentacle' is untouched: it keeps serving your Octopus Server.
# octowiz runs it through the Octopus Server's script console; it holds no API key: octowiz
# registers each instance on Octopus Cloud afterwards from the report printed at the end.
# It stops at the first command that fails, and is safe to run again: what an earlier run did
# is kept (the instance, its certificate, its trust of Octopus Cloud, its registration).
$ErrorActionPreference = 'Stop'

$Instances = & "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" list-instances --format 'json' --console
if ($LASTEXITCODE -ne 0) { Write-Host 'list-instances failed for OctopusCloud-polling-target.'; exit $LASTEXITCODE }
if ($Instances -like '*"InstanceName": "OctopusCloud-polling-target"*') {
    Write-Host 'The Tentacle instance OctopusCloud-polling-target already exists; keeping it'
} else {
    Write-Host 'Creating the Tentacle instance OctopusCloud-polling-target'
    & "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" create-instance --instance 'OctopusCloud-polling-target' --config 'C:\Octopus\OctopusCloud-polling-target\Tentacle.config' --home 'C:\Octopus\OctopusCloud-polling-target' --console
    if ($LASTEXITCODE -ne 0) { Write-Host 'create-instance failed for OctopusCloud-polling-target.'; exit $LASTEXITCODE }
}
Write-Host 'Giving OctopusCloud-polling-target its own certificate'
& "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" new-certificate --instance 'OctopusCloud-polling-target' --if-blank --console
if ($LASTEXITCODE -ne 0) { Write-Host 'new-certificate failed for OctopusCloud-polling-target.'; exit $LASTEXITCODE }
$Configuration = & "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" show-configuration --instance 'OctopusCloud-polling-target' --console
if ($LASTEXITCODE -ne 0) { Write-Host 'show-configuration failed for OctopusCloud-polling-target.'; exit $LASTEXITCODE }
if ($Configuration -like '*"Thumbprint": "77C14CD01A123FB9803F1F7BB3DCC2394CE96434"*') {
    Write-Host 'OctopusCloud-polling-target already trusts Octopus Cloud; keeping that trust and its polling subscription'
} else {
    Write-Host 'Clearing the trusted servers of OctopusCloud-polling-target'
    & "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" configure --instance 'OctopusCloud-polling-target' --reset-trust --console
    if ($LASTEXITCODE -ne 0) { Write-Host 'configure failed for OctopusCloud-polling-target.'; exit $LASTEXITCODE }
}
Write-Host 'Configuring OctopusCloud-polling-target to poll'
& "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" configure --instance 'OctopusCloud-polling-target' --app 'C:\Octopus\OctopusCloud-polling-target\Applications' --noListen 'True' --console
if ($LASTEXITCODE -ne 0) { Write-Host 'configure failed for OctopusCloud-polling-target.'; exit $LASTEXITCODE }
Write-Host 'Trusting the Octopus Cloud certificate in OctopusCloud-polling-target'
& "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" configure --instance 'OctopusCloud-polling-target' --trust '77C14CD01A123FB9803F1F7BB3DCC2394CE96434' --console
if ($LASTEXITCODE -ne 0) { Write-Host 'configure failed for OctopusCloud-polling-target.'; exit $LASTEXITCODE }
Write-Host 'Pointing OctopusCloud-polling-target at polling.octowiz-demo.octopus.app:443'
& "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" server-comms --instance 'OctopusCloud-polling-target' --thumbprint '77C14CD01A123FB9803F1F7BB3DCC2394CE96434' --style 'TentacleActive' --host 'polling.octowiz-demo.octopus.app' --port '443' --console
if ($LASTEXITCODE -ne 0) { Write-Host 'server-comms failed for OctopusCloud-polling-target.'; exit $LASTEXITCODE }
Write-Host 'Installing and starting the service of OctopusCloud-polling-target'
& "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" service --instance 'OctopusCloud-polling-target' --install --start --console
if ($LASTEXITCODE -ne 0) { Write-Host 'service failed for OctopusCloud-polling-target.'; exit $LASTEXITCODE }

Write-Host 'OCTOWIZ-CLONE-BEGIN OctopusCloud-polling-target'
& "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" show-thumbprint --instance 'OctopusCloud-polling-target' --format json --console
Write-Host ''
& "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" show-configuration --instance 'OctopusCloud-polling-target' --console
Write-Host ''
Write-Host 'OCTOWIZ-CLONE-END OctopusCloud-polling-target'

Write-Host 'Done: 1 Tentacle instance ready for Octopus Cloud; the original instance is unchanged.'
