# octowiz: clone the Tentacle on web01.corp.local for Octopus Cloud
#
# What it does: creates a SECOND Tentacle instance on this machine for each registration below,
# gives it its own certificate and connects it to the Octopus Cloud instance
# https://octowiz-demo.octopus.app (space 'Default'):
#   OctopusCloudWorker-listening-worker: worker 'listening-worker', listening on port 10935, reached at web01.example.com
# The original instance 'Tentacle' is untouched: it keeps serving your Octopus Server.
# octowiz runs it through the Octopus Server's script console; it holds no API key: octowiz
# registers each instance on Octopus Cloud afterwards from the report printed at the end.
# It stops at the first command that fails, and is safe to run again: what an earlier run did
# is kept (the instance, its certificate, its trust of Octopus Cloud, its registration).
$ErrorActionPreference = 'Stop'

$Instances = & "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" list-instances --format 'json' --console
if ($LASTEXITCODE -ne 0) { Write-Host 'list-instances failed for OctopusCloudWorker-listening-worker.'; exit $LASTEXITCODE }
if ($Instances -like '*"InstanceName": "OctopusCloudWorker-listening-worker"*') {
    Write-Host 'The Tentacle instance OctopusCloudWorker-listening-worker already exists; keeping it'
} else {
    Write-Host 'Creating the Tentacle instance OctopusCloudWorker-listening-worker'
    & "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" create-instance --instance 'OctopusCloudWorker-listening-worker' --config 'C:\Octopus\OctopusCloudWorker-listening-worker\Tentacle.config' --home 'C:\Octopus\OctopusCloudWorker-listening-worker' --console
    if ($LASTEXITCODE -ne 0) { Write-Host 'create-instance failed for OctopusCloudWorker-listening-worker.'; exit $LASTEXITCODE }
}
Write-Host 'Giving OctopusCloudWorker-listening-worker its own certificate'
& "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" new-certificate --instance 'OctopusCloudWorker-listening-worker' --if-blank --console
if ($LASTEXITCODE -ne 0) { Write-Host 'new-certificate failed for OctopusCloudWorker-listening-worker.'; exit $LASTEXITCODE }
$Configuration = & "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" show-configuration --instance 'OctopusCloudWorker-listening-worker' --console
if ($LASTEXITCODE -ne 0) { Write-Host 'show-configuration failed for OctopusCloudWorker-listening-worker.'; exit $LASTEXITCODE }
if ($Configuration -like '*"Thumbprint": "77C14CD01A123FB9803F1F7BB3DCC2394CE96434"*') {
    Write-Host 'OctopusCloudWorker-listening-worker already trusts Octopus Cloud; keeping that trust'
} else {
    Write-Host 'Clearing the trusted servers of OctopusCloudWorker-listening-worker'
    & "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" configure --instance 'OctopusCloudWorker-listening-worker' --reset-trust --console
    if ($LASTEXITCODE -ne 0) { Write-Host 'configure failed for OctopusCloudWorker-listening-worker.'; exit $LASTEXITCODE }
}
Write-Host 'Configuring OctopusCloudWorker-listening-worker to listen on port 10935'
& "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" configure --instance 'OctopusCloudWorker-listening-worker' --app 'C:\Octopus\OctopusCloudWorker-listening-worker\Applications' --port '10935' --noListen 'False' --console
if ($LASTEXITCODE -ne 0) { Write-Host 'configure failed for OctopusCloudWorker-listening-worker.'; exit $LASTEXITCODE }
$null = & netsh advfirewall firewall show rule 'name=Octopus Deploy Tentacle OctopusCloudWorker-listening-worker'
if ($LASTEXITCODE -eq 0) {
    Write-Host 'The firewall rule for OctopusCloudWorker-listening-worker is already there'
} else {
    Write-Host 'Opening TCP port 10935 inbound in Windows Firewall'
    & netsh advfirewall firewall add rule 'name=Octopus Deploy Tentacle OctopusCloudWorker-listening-worker' dir=in action=allow protocol=TCP localport=10935
    if ($LASTEXITCODE -ne 0) { Write-Host 'The firewall rule for OctopusCloudWorker-listening-worker could not be added.'; exit $LASTEXITCODE }
}
Write-Host 'Trusting the Octopus Cloud certificate in OctopusCloudWorker-listening-worker'
& "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" configure --instance 'OctopusCloudWorker-listening-worker' --trust '77C14CD01A123FB9803F1F7BB3DCC2394CE96434' --console
if ($LASTEXITCODE -ne 0) { Write-Host 'configure failed for OctopusCloudWorker-listening-worker.'; exit $LASTEXITCODE }
Write-Host 'Installing and starting the service of OctopusCloudWorker-listening-worker'
& "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" service --instance 'OctopusCloudWorker-listening-worker' --install --start --console
if ($LASTEXITCODE -ne 0) { Write-Host 'service failed for OctopusCloudWorker-listening-worker.'; exit $LASTEXITCODE }

Write-Host 'OCTOWIZ-CLONE-BEGIN OctopusCloudWorker-listening-worker'
& "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" show-thumbprint --instance 'OctopusCloudWorker-listening-worker' --format json --console
Write-Host ''
& "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" show-configuration --instance 'OctopusCloudWorker-listening-worker' --console
Write-Host ''
Write-Host 'OCTOWIZ-CLONE-END OctopusCloudWorker-listening-worker'

Write-Host 'Done: 1 Tentacle instance ready for Octopus Cloud; the original instance is unchanged.'
