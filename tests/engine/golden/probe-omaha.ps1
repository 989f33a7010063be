# octowiz connectivity probe for data centre: Omaha
#
# Run it on a machine in that data centre. It checks that the machine resolves the Octopus
# Cloud instance acme.octopus.app and can open outbound TCP connections to it:
#   443    Tentacle registration, HTTPS
#   10943  polling Tentacle communication
# No Tentacle in this data centre says which mode it will use, so it checks what
# polling Tentacles need (listening ones: 443 outbound, 10933 inbound).
# Each check waits at most 5 seconds. It needs no credentials, sends no data and
# changes nothing. It prints PASS or FAIL per check; the exit code is 0 when every check
# passes and 1 when any fails.
$ErrorActionPreference = 'Stop'

$DestinationHost = 'acme.octopus.app'
$DataCentre = 'Omaha'
$TimeoutSeconds = 5
$Checks = @(
    @{ Port = 443; Purpose = 'Tentacle registration, HTTPS' }
    @{ Port = 10943; Purpose = 'polling Tentacle communication' }
)

$MeasuredAt = [DateTime]::UtcNow.ToString('o')
$MeasuredFrom = [System.Net.Dns]::GetHostName()
Write-Output "octowiz probe for data centre ${DataCentre}: ${DestinationHost}, measured from ${MeasuredFrom} at ${MeasuredAt}"
$Failures = 0

try {
    $Addresses = [System.Net.Dns]::GetHostAddresses($DestinationHost)
    Write-Output "PASS  DNS ${DestinationHost} resolves to $($Addresses[0].IPAddressToString)"
} catch {
    $Why = $_.Exception.GetBaseException().Message
    Write-Output "FAIL  DNS ${DestinationHost} does not resolve: ${Why}"
    $Failures++
}

foreach ($Check in $Checks) {
    $Label = "TCP $($Check.Port) to ${DestinationHost} ($($Check.Purpose))"
    $Client = New-Object System.Net.Sockets.TcpClient
    try {
        $Connect = $Client.ConnectAsync($DestinationHost, $Check.Port)
        if ($Connect.Wait($TimeoutSeconds * 1000)) {
            Write-Output "PASS  ${Label}"
        } else {
            Write-Output "FAIL  ${Label}: no answer within ${TimeoutSeconds} s"
            $Failures++
        }
    } catch {
        Write-Output "FAIL  ${Label}: $($_.Exception.GetBaseException().Message)"
        $Failures++
    } finally {
        $Client.Close()
    }
}

if ($Failures -gt 0) {
    Write-Output "RESULT: FAIL (${Failures} check(s) failed)"
    exit 1
}
Write-Output 'RESULT: PASS'
exit 0
