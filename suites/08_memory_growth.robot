*** Settings ***
Documentation     Memory growth: resident memory of the generator and of the mock server stays
...               within the limit over a sustained run.

Resource          ../resources/throughput.resource

Suite Setup       Start Load Test Target
Suite Teardown    Stop Load Test Target
Test Setup        Apply Quick Mode
Test Teardown     Disconnect All Clients

Test Tags         memory


*** Test Cases ***
Memory Stays Flat Under Sustained Load
    [Documentation]    Resident memory of the generator, and of the embedded mock server when
    ...    there is one, grows less than the limit over the run.
    Connect Test Clients    count=${CONNECTIONS}
    Run Sustained Load    ${SUSTAINED_THROUGHPUT_TARGET}    ${MEMORY_TEST_DURATION}
    Delivery Ratio Should Be At Least    ${MIN_DELIVERY_RATIO}
    Memory Growth Should Be Below    ${MAX_MEMORY_GROWTH}    process=generator
    IF    ${EMBEDDED_SERVER}
        Memory Growth Should Be Below    ${MAX_MEMORY_GROWTH}    process=server
    END
